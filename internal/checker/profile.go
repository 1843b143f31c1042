package checker

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/open-policy-agent/opa/v1/profiler"
	"github.com/open-policy-agent/opa/v1/rego"
)

// RuleSetCost is the time one package's rule set took over an env's objects.
type RuleSetCost struct {
	Env, Rule string // "prod", "zones.deny"
	Elapsed   time.Duration
}

// Profile is a benchmark aid (bench/checkprof): it evaluates the sets as
// Check does, but each rule set by its own query, one object at a time, so
// the time of every package's rules is measured apart, and runs OPA's
// expression profiler (one evaluation of every rule set per object, all
// objects, traced) to name the costliest lines. It returns the rule sets
// costliest first and the top expressions.
//
// kind, when not "", restricts the expression profile to the objects of
// that index key (Kind or Kind.group).
func (c *Checker) Profile(ctx context.Context, sets []Set, top int, kind string) ([]RuleSetCost, []profiler.ExprStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	queries := make([]rego.PreparedEvalQuery, len(c.rules))
	for i := range c.rules {
		q, err := c.ruleSetQuery(ctx, i)
		if err != nil {
			return nil, nil, err
		}
		queries[i] = q
	}
	values, indexes, err := c.inputs(ctx, sets)
	if err != nil {
		return nil, nil, err
	}
	var costs []RuleSetCost
	prof := profiler.New()
	for si, s := range sets {
		start := time.Now()
		check, err := c.checkDoc(s, indexes)
		if err != nil {
			return nil, nil, err
		}
		if err := c.setCheck(ctx, check); err != nil {
			return nil, nil, err
		}
		costs = append(costs, RuleSetCost{s.Env, "(data.check written)", time.Since(start)})
		start = time.Now()
		if err := c.addEnvIndex(ctx, check); err != nil {
			return nil, nil, err
		}
		if err := c.setCheck(ctx, check); err != nil {
			return nil, nil, err
		}
		costs = append(costs, RuleSetCost{s.Env, "(env_index)", time.Since(start)})
		for _, pkg := range c.indexPkgs { // each alone (shared helpers computed again)
			q, err := prepareList(ctx, c.compiler, c.store, []string{envIndexRef(pkg)})
			if err != nil {
				return nil, nil, err
			}
			start := time.Now()
			if _, err := q.Eval(ctx); err != nil {
				return nil, nil, err
			}
			costs = append(costs, RuleSetCost{s.Env, "(env_index alone) " + pkg, time.Since(start)})
		}
		inputs := values[si]
		for i, q := range queries {
			start := time.Now()
			perKind := map[string]time.Duration{}
			for j, in := range inputs {
				t := time.Now()
				if _, err := q.Eval(ctx, rego.EvalParsedInput(in)); err != nil {
					return nil, nil, err
				}
				perKind[indexKey(s.Objects[j])] += time.Since(t)
			}
			name := c.rules[i].pkg + "." + c.rules[i].name
			costs = append(costs, RuleSetCost{s.Env, name, time.Since(start)})
			for k, d := range perKind {
				if d >= 20*time.Millisecond { // the kinds that make a rule set's cost
					costs = append(costs, RuleSetCost{s.Env, fmt.Sprintf("  %s on %s", name, k), d})
				}
			}
		}
		// Each kind's query (as Check runs it, one thread), by object kind.
		if err := c.prepareKinds(ctx, s.Objects); err != nil {
			return nil, nil, err
		}
		byKind := map[string]time.Duration{}
		counts := map[string]int{}
		for i, in := range inputs {
			start := time.Now()
			if kq := c.byKind[kindOf(s.Objects[i])]; len(kq.sel) > 0 {
				if _, err := kq.query.Eval(ctx, rego.EvalParsedInput(in)); err != nil {
					return nil, nil, err
				}
			}
			k := indexKey(s.Objects[i])
			byKind[k] += time.Since(start)
			counts[k]++
		}
		for k, d := range byKind {
			costs = append(costs, RuleSetCost{s.Env, fmt.Sprintf("(its kind's rule sets) %s x%d, %v each", k, counts[k], (d / time.Duration(counts[k])).Round(time.Microsecond)), d})
		}
		for i, in := range inputs {
			if kind != "" && indexKey(s.Objects[i]) != kind {
				continue
			}
			if _, err := c.query.Eval(ctx, rego.EvalParsedInput(in), rego.EvalQueryTracer(prof)); err != nil {
				return nil, nil, err
			}
		}
	}
	slices.SortFunc(costs, func(a, b RuleSetCost) int { return int(b.Elapsed - a.Elapsed) })
	return costs, prof.ReportTopNResults(top, []string{"total_time_ns", "num_eval", "file", "line"}), nil
}
