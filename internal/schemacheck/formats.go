package schemacheck

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// formats are the string formats the API server checks, with its meaning
// (kube-openapi's strfmt), which is not always JSON Schema's: "duration" is a
// Go duration, not ISO 8601. Each check ignores values of other types, as
// JSON Schema formats do.
var formats = []*jsonschema.Format{
	{Name: "int32", Validate: intRange(math.MinInt32, math.MaxInt32)},
	{Name: "int64", Validate: intRange(math.MinInt64, math.MaxInt64)},
	{Name: "quantity", Validate: quantity},
	{Name: "byte", Validate: stringCheck(func(s string) error {
		_, err := base64.StdEncoding.DecodeString(s)
		return err
	})},
	{Name: "date-time", Validate: stringCheck(dateTime)},
	{Name: "datetime", Validate: stringCheck(dateTime)},
	{Name: "date", Validate: stringCheck(func(s string) error {
		_, err := time.Parse(time.DateOnly, s)
		return err
	})},
	{Name: "duration", Validate: stringCheck(duration)},
	{Name: "uri", Validate: stringCheck(func(s string) error {
		_, err := url.ParseRequestURI(s)
		return err
	})},
	{Name: "email", Validate: stringCheck(func(s string) error {
		_, err := mail.ParseAddress(s)
		return err
	})},
	{Name: "hostname", Validate: stringMatch(regexp.MustCompile(`^[a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)(\.[a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?))*\.?$`))},
	{Name: "ipv4", Validate: stringCheck(func(s string) error {
		if ip := net.ParseIP(s); ip == nil || ip.To4() == nil {
			return errors.New("not an IPv4 address")
		}
		return nil
	})},
	{Name: "ipv6", Validate: stringCheck(func(s string) error {
		if ip := net.ParseIP(s); ip == nil || ip.To4() != nil {
			return errors.New("not an IPv6 address")
		}
		return nil
	})},
	{Name: "cidr", Validate: stringCheck(func(s string) error {
		_, _, err := net.ParseCIDR(s)
		return err
	})},
	{Name: "mac", Validate: stringCheck(func(s string) error {
		_, err := net.ParseMAC(s)
		return err
	})},
	{Name: "uuid", Validate: stringMatch(regexp.MustCompile(`(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$`))},
	{Name: "uuid3", Validate: stringMatch(regexp.MustCompile(`(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$`))},
	{Name: "uuid4", Validate: stringMatch(regexp.MustCompile(`(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$`))},
	{Name: "uuid5", Validate: stringMatch(regexp.MustCompile(`(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$`))},
}

func stringCheck(f func(string) error) func(any) error {
	return func(v any) error {
		if s, ok := v.(string); ok {
			return f(s)
		}
		return nil
	}
}

func stringMatch(re *regexp.Regexp) func(any) error {
	return stringCheck(func(s string) error {
		if !re.MatchString(s) {
			return errors.New("does not match " + re.String())
		}
		return nil
	})
}

func dateTime(s string) error {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err
}

// duration accepts Go durations ("1h30m") and the Scala form ("22 ns") that
// kube-openapi also accepts.
var scalaDuration = regexp.MustCompile(`^[0-9]+\s*(ns|nano|nanos|nanosecond|nanoseconds|us|micro|micros|microsecond|microseconds|ms|milli|millis|millisecond|milliseconds|s|second|seconds|m|minute|minutes|h|hour|hours|d|day|days|w|week|weeks)$`)

func duration(s string) error {
	if _, err := time.ParseDuration(s); err == nil || scalaDuration.MatchString(s) {
		return nil
	}
	return errors.New("not a duration")
}

func intRange(lo, hi float64) func(any) error {
	return func(v any) error {
		var f float64
		switch n := v.(type) {
		case int64:
			f = float64(n)
		case int:
			f = float64(n)
		case float64:
			f = n
		default:
			return nil
		}
		if f < lo || f > hi {
			return fmt.Errorf("out of range [%.0f, %.0f]", lo, hi)
		}
		return nil
	}
}

// quantityPattern is resource.Quantity's grammar: a signed decimal number and
// an optional decimal-SI, binary-SI or exponent suffix.
var quantityPattern = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$`)

func quantity(v any) error {
	if s, ok := v.(string); ok && !quantityPattern.MatchString(s) {
		return errors.New("not a Kubernetes quantity (e.g. 500m, 2Gi, 1.5)")
	}
	return nil
}
