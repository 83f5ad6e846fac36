// Command argocd-lua runs Argo CD resource customizations (health.lua, actions/discovery.lua,
// actions/<name>/action.lua) with gopher-lua, the Lua 5.1 VM Argo CD embeds, against tests in
// Argo CD's own layout: <dir>/health_test.yaml and <dir>/actions/action_test.yaml.
//
//	argocd-lua <dir>
//
// Prints one line per test case and exits 1 if any case differs from its expectation.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

type healthTests struct {
	Tests []struct {
		HealthStatus struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"healthStatus"`
		InputPath string `json:"inputPath"`
	} `json:"tests"`
}

type actionTests struct {
	DiscoveryTests []struct {
		InputPath string `json:"inputPath"`
		Result    []struct {
			Name     string `json:"name"`
			Disabled bool   `json:"disabled"`
		} `json:"result"`
	} `json:"discoveryTests"`
	ActionTests []struct {
		Action             string `json:"action"`
		InputPath          string `json:"inputPath"`
		ExpectedOutputPath string `json:"expectedOutputPath"`
		ExpectedError      string `json:"expectedError"`
	} `json:"actionTests"`
}

var failed int

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argocd-lua <dir with health.lua and health_test.yaml>")
		os.Exit(2)
	}
	dir := os.Args[1]
	var ht healthTests
	load(filepath.Join(dir, "health_test.yaml"), &ht)
	for _, t := range ht.Tests {
		var obj map[string]interface{}
		load(filepath.Join(dir, t.InputPath), &obj)
		res, err := run(filepath.Join(dir, "health.lua"), obj)
		got := map[string]interface{}{}
		if err == nil {
			got, _ = res.(map[string]interface{})
		}
		check(fmt.Sprintf("health %s", t.InputPath), err,
			map[string]interface{}{"status": got["status"], "message": got["message"]},
			map[string]interface{}{"status": t.HealthStatus.Status, "message": t.HealthStatus.Message})
	}
	actionsFile := filepath.Join(dir, "actions", "action_test.yaml")
	if _, err := os.Stat(actionsFile); err != nil {
		summary()
		return
	}
	var at actionTests
	load(actionsFile, &at)
	for _, t := range at.DiscoveryTests {
		var obj map[string]interface{}
		load(filepath.Join(dir, t.InputPath), &obj)
		res, err := run(filepath.Join(dir, "actions", "discovery.lua"), obj)
		got := []interface{}{}
		if m, ok := res.(map[string]interface{}); ok {
			names := make([]string, 0, len(m))
			for k := range m {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				disabled := false
				if a, ok := m[k].(map[string]interface{}); ok {
					disabled, _ = a["disabled"].(bool)
				}
				got = append(got, map[string]interface{}{"name": k, "disabled": disabled})
			}
		}
		want := []interface{}{}
		for _, r := range t.Result {
			want = append(want, map[string]interface{}{"name": r.Name, "disabled": r.Disabled})
		}
		check(fmt.Sprintf("discovery %s", t.InputPath), err, got, want)
	}
	for _, t := range at.ActionTests {
		var obj map[string]interface{}
		load(filepath.Join(dir, t.InputPath), &obj)
		res, err := run(filepath.Join(dir, "actions", t.Action, "action.lua"), obj)
		name := fmt.Sprintf("action %s %s", t.Action, t.InputPath)
		if t.ExpectedError != "" {
			msg := ""
			if apiErr, ok := err.(*lua.ApiError); ok {
				msg = apiErr.Object.String() // the error() value, without the traceback
			} else if err != nil {
				msg = err.Error()
			}
			check(name, nil, msg, t.ExpectedError)
			continue
		}
		var want map[string]interface{}
		load(filepath.Join(dir, t.ExpectedOutputPath), &want)
		check(name, err, normalize(res), normalize(want))
	}
	summary()
}

// run executes a script with the global `obj`, as Argo CD does, and returns its result as Go data.
func run(script string, obj map[string]interface{}) (interface{}, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	// Argo CD opens only these libraries for customizations (no io, os, or loading of code).
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoFile(script); err != nil {
		return nil, err
	}
	return fromLua(L.Get(-1)), nil
}

func toLua(L *lua.LState, v interface{}) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []interface{}:
		t := L.NewTable()
		for _, e := range x {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]interface{}:
		t := L.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	panic(fmt.Sprintf("unsupported value %T", v))
}

func fromLua(v lua.LValue) interface{} {
	switch x := v.(type) {
	case *lua.LNilType:
		return nil
	case lua.LBool:
		return bool(x)
	case lua.LNumber:
		return float64(x)
	case lua.LString:
		return string(x)
	case *lua.LTable:
		if n := x.Len(); n > 0 {
			arr := make([]interface{}, 0, n)
			for i := 1; i <= n; i++ {
				arr = append(arr, fromLua(x.RawGetInt(i)))
			}
			return arr
		}
		m := map[string]interface{}{}
		x.ForEach(func(k, e lua.LValue) { m[k.String()] = fromLua(e) })
		return m
	}
	return v.String()
}

func normalize(v interface{}) interface{} {
	b, _ := json.Marshal(v)
	var out interface{}
	_ = json.Unmarshal(b, &out)
	return out
}

func load(path string, into interface{}) {
	b, err := os.ReadFile(path)
	if err == nil {
		err = yaml.Unmarshal(b, into)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "argocd-lua: %s: %v\n", path, err)
		os.Exit(2)
	}
}

func check(name string, err error, got, want interface{}) {
	if err != nil {
		failed++
		fmt.Printf("FAIL %s: %v\n", name, err)
		return
	}
	if !reflect.DeepEqual(normalize(got), normalize(want)) {
		failed++
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		fmt.Printf("FAIL %s:\n  got  %s\n  want %s\n", name, g, w)
		return
	}
	fmt.Printf("ok   %s\n", name)
}

func summary() {
	if failed > 0 {
		os.Exit(1)
	}
}
