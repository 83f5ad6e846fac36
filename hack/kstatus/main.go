// Command kstatus prints the kstatus verdict of Kubernetes objects, computed by the library Flux
// and other GitOps tools use (sigs.k8s.io/cli-utils/pkg/kstatus/status), not by our reading of it.
//
// It reads one JSON object, or a JSON array of objects, on stdin and prints for each one line of
// JSON: {"name":…,"status":"InProgress|Failed|Current|Terminating|Unknown","message":…}.
// Exit code 0 when every object was computed, 1 on unreadable input or a computation error.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	in = bytes.TrimSpace(in)
	var docs []json.RawMessage
	if len(in) > 0 && in[0] == '[' {
		err = json.Unmarshal(in, &docs)
	} else {
		docs = []json.RawMessage{in}
	}
	if err != nil {
		fail("stdin is not a JSON object or array of objects: %v", err)
	}
	enc := json.NewEncoder(os.Stdout)
	for i, doc := range docs {
		// The unstructured decoder keeps integers as int64, as kstatus's accessors require.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(doc); err != nil {
			fail("object %d on stdin: %v", i, err)
		}
		res, err := status.Compute(u)
		if err != nil {
			fail("%s/%s: kstatus could not compute a status: %v", u.GetKind(), u.GetName(), err)
		}
		if err := enc.Encode(verdict{Name: u.GetName(), Status: res.Status.String(), Message: res.Message}); err != nil {
			fail("writing stdout: %v", err)
		}
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", args...)
	os.Exit(1)
}
