package generator

import (
	"fmt"

	"cuelang.org/go/cue"
)

// outputPath is where an env publishes its app folders: the one contract
// between the CUE and this package.
var outputPath = cue.ParsePath("output.apps")

// app is one folder of rendered/<env>/: its objects as JSON, in CUE order.
type app struct {
	name    string
	objects []object
}

type object struct {
	key   string // the object's key in the CUE (for error messages)
	json  []byte
	value cue.Value
}

// extract reads output.apps.<app>.objects.<key> as JSON.
func extract(v cue.Value, env string) ([]app, error) {
	appsV := v.LookupPath(outputPath)
	if !appsV.Exists() {
		return nil, &InputError{Env: env, Msg: "the env has no output.apps: does it unify with schema.#Render?"}
	}
	it, err := appsV.Fields()
	if err != nil {
		return nil, &InputError{Env: env, Msg: err.Error()}
	}
	var apps []app
	for it.Next() {
		a := app{name: it.Selector().Unquoted()}
		objs, err := it.Value().LookupPath(cue.ParsePath("objects")).Fields()
		if err != nil {
			return nil, &InputError{Env: env, Msg: fmt.Sprintf("output.apps.%s.objects: %v", a.name, err)}
		}
		for objs.Next() {
			data, err := objs.Value().MarshalJSON()
			if err != nil {
				return nil, &InputError{Env: env, Msg: fmt.Sprintf("output.apps.%s.objects.%s: %v", a.name, objs.Selector(), err)}
			}
			a.objects = append(a.objects, object{key: objs.Selector().String(), json: data, value: objs.Value()})
		}
		apps = append(apps, a)
	}
	return apps, nil
}
