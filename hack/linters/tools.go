//go:build tools

// The linters this module pins (go.mod, go.sum) and hack/linters-assets.sh builds.
package tools

import (
	_ "github.com/yannh/kubeconform/cmd/kubeconform"
	_ "github.com/zegl/kube-score/cmd/kube-score"
)
