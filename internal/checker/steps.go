package checker

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Steps is the work of the policies, counted in expressions OPA evaluates
// (its tracer's Eval events): a measure that, unlike time, depends neither on
// the machine nor on its load, so a test can compare it between platforms of
// different sizes and tell a rule that scans the env per object (its work
// per object grows with the env) from one that looks the env index up. An
// expression counts once whatever it does inside: a built-in call over a
// large value is one step, an iteration one per element.
type Steps struct {
	// EnvIndex is the steps of each env's env_index evaluation.
	EnvIndex map[string]int64
	// Objects is, per object, the steps of each rule set ("pkg.deny") its
	// kind runs.
	Objects map[ObjectKey]map[string]int64
}

// ObjectKey names an object of a set: its env and its ID
// (apiVersion/kind/namespace/name).
type ObjectKey struct{ Env, ID string }

// Steps evaluates the sets as Check does, one object and one rule set at a
// time, counting steps; it returns no findings. A test and benchmark aid.
func (c *Checker) Steps(ctx context.Context, sets []Set) (Steps, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	steps := Steps{EnvIndex: map[string]int64{}, Objects: map[ObjectKey]map[string]int64{}}
	values, indexes, err := c.inputs(ctx, sets)
	if err != nil {
		return steps, err
	}
	queries := map[int]rego.PreparedEvalQuery{}
	for i, s := range sets {
		var count stepCounter
		if err := c.loadEnv(ctx, s, indexes, rego.EvalQueryTracer(&count)); err != nil {
			return steps, err
		}
		steps.EnvIndex[s.Env] = int64(count)
		for j, obj := range s.Objects {
			id := ObjectKey{s.Env, obj.ID()}
			for _, r := range c.byKind[kindOf(obj)].sel {
				q, ok := queries[r]
				if !ok {
					if q, err = c.ruleSetQuery(ctx, r); err != nil {
						return steps, err
					}
					queries[r] = q
				}
				var count stepCounter
				if _, err := q.Eval(ctx, rego.EvalParsedInput(values[i][j]), rego.EvalQueryTracer(&count)); err != nil {
					return steps, &PolicyError{fmt.Errorf("evaluating %s:%d: %w", obj.File, obj.Line, err)}
				}
				if steps.Objects[id] == nil {
					steps.Objects[id] = map[string]int64{}
				}
				steps.Objects[id][c.rules[r].pkg+"."+c.rules[r].name] += int64(count)
			}
		}
	}
	return steps, nil
}

// stepCounter counts the expressions an evaluation evaluates.
type stepCounter int64

func (s *stepCounter) Enabled() bool { return true }

func (s *stepCounter) TraceEvent(e topdown.Event) {
	if e.Op == topdown.EvalOp {
		*s++
	}
}

func (s *stepCounter) Config() topdown.TraceConfig { return topdown.TraceConfig{} }
