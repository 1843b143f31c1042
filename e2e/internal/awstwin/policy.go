package awstwin

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Policy is an IAM policy document (IAM JSON policy reference, "Grammar").
// What the evaluation below does not model (NotAction, NotResource,
// NotPrincipal, condition operators other than String(Not)Equals and
// String(Not)Like) is an error, so a policy using it is refused visibly
// rather than judged wrongly.
type Policy struct {
	Version   string     `json:"Version"`
	Statement statements `json:"Statement"`
}

// Statement is one statement of a Policy.
type Statement struct {
	Sid          string                           `json:"Sid"`
	Effect       string                           `json:"Effect"`
	Principal    json.RawMessage                  `json:"Principal"`
	Action       stringList                       `json:"Action"`
	Resource     stringList                       `json:"Resource"`
	Condition    map[string]map[string]stringList `json:"Condition"`
	NotAction    json.RawMessage                  `json:"NotAction"`
	NotResource  json.RawMessage                  `json:"NotResource"`
	NotPrincipal json.RawMessage                  `json:"NotPrincipal"`
}

// statements is one statement or a list of them.
type statements []Statement

func (s *statements) UnmarshalJSON(b []byte) error {
	var one Statement
	if err := json.Unmarshal(b, &one); err == nil && !strings.HasPrefix(strings.TrimSpace(string(b)), "[") {
		*s = statements{one}
		return nil
	}
	var many []Statement
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// stringList is one string or a list of them.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %s", b)
	}
	*l = many
	return nil
}

// ParsePolicy parses a policy document.
func ParsePolicy(doc string) (*Policy, error) {
	var p Policy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, fmt.Errorf("policy document: %w", err)
	}
	return &p, nil
}

// Request is what one statement is matched against: an action, and either
// the resource (identity policies) or the federated principal (trust
// policies), with the request's condition context keys.
type Request struct {
	Action    string
	Resource  string
	Federated string
	Context   map[string]string
}

// Decision is the outcome of evaluating policies (IAM's policy evaluation
// logic: an explicit Deny wins, else an Allow, else implicitly denied).
type Decision struct {
	Allowed bool
	// Why names the statement that decided, or why none did.
	Why string
}

// Evaluate evaluates req against policies as IAM does for one account
// without boundaries or SCPs.
func Evaluate(req Request, policies ...*Policy) (Decision, error) {
	var allow string
	for _, p := range policies {
		for i, st := range p.Statement {
			match, err := st.matches(req)
			if err != nil {
				return Decision{}, fmt.Errorf("statement %d (%s): %w", i, st.Sid, err)
			}
			if !match {
				continue
			}
			name := fmt.Sprintf("statement %d", i)
			if st.Sid != "" {
				name += " (" + st.Sid + ")"
			}
			switch st.Effect {
			case "Deny":
				return Decision{Why: "explicitly denied by " + name}, nil
			case "Allow":
				allow = "allowed by " + name
			default:
				return Decision{}, fmt.Errorf("statement %d: Effect %q", i, st.Effect)
			}
		}
	}
	if allow != "" {
		return Decision{Allowed: true, Why: allow}, nil
	}
	return Decision{Why: "no statement allows " + req.Action}, nil
}

func (st Statement) matches(req Request) (bool, error) {
	for name, raw := range map[string]json.RawMessage{"NotAction": st.NotAction, "NotResource": st.NotResource, "NotPrincipal": st.NotPrincipal} {
		if len(raw) > 0 {
			return false, fmt.Errorf("%s is not modelled by the twin's IAM stand-in", name)
		}
	}
	if !anyMatch(st.Action, req.Action, true) {
		return false, nil
	}
	if req.Federated != "" {
		ok, err := federatedPrincipal(st.Principal, req.Federated)
		if err != nil || !ok {
			return false, err
		}
	} else if !anyMatch(st.Resource, req.Resource, false) {
		return false, nil
	}
	return conditionsHold(st.Condition, req.Context)
}

// federatedPrincipal reports whether a trust policy's Principal names the
// federated identity provider (an IAM OIDC provider's ARN).
func federatedPrincipal(raw json.RawMessage, provider string) (bool, error) {
	if len(raw) == 0 {
		return false, nil
	}
	var star string
	if json.Unmarshal(raw, &star) == nil {
		return star == "*", nil
	}
	var byType map[string]stringList
	if err := json.Unmarshal(raw, &byType); err != nil {
		return false, fmt.Errorf("Principal: %w", err)
	}
	return anyMatch(byType["Federated"], provider, false), nil
}

// conditionsHold evaluates a Condition block: every operator and every key
// in it must hold; a key holds if any of its values matches.
func conditionsHold(cond map[string]map[string]stringList, ctx map[string]string) (bool, error) {
	for op, keys := range cond {
		for key, values := range keys {
			got, present := lookupKey(ctx, key)
			var hold bool
			switch op {
			case "StringEquals", "StringNotEquals":
				for _, v := range values {
					hold = hold || (present && got == v)
				}
			case "StringLike", "StringNotLike":
				for _, v := range values {
					hold = hold || (present && wildcard(v, got, false))
				}
			default:
				return false, fmt.Errorf("condition operator %s is not modelled by the twin's IAM stand-in", op)
			}
			if strings.HasPrefix(op, "StringNot") {
				hold = !hold
			}
			if !hold {
				return false, nil
			}
		}
	}
	return true, nil
}

// lookupKey finds a condition key; IAM condition key names are not case
// sensitive.
func lookupKey(ctx map[string]string, key string) (string, bool) {
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func anyMatch(patterns []string, s string, foldCase bool) bool {
	for _, p := range patterns {
		if wildcard(p, s, foldCase) {
			return true
		}
	}
	return false
}

// wildcard matches IAM's * (any run, also of '/') and ? (one character).
func wildcard(pattern, s string, foldCase bool) bool {
	if foldCase {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	// Not path.Match: its * stops at '/', IAM's does not.
	return wildcardAt(pattern, s)
}

func wildcardAt(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if wildcardAt(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
		default:
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}
