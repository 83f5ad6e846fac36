// Command grafana-dashboard-check validates Grafana dashboard JSON against the dashboard schema as
// Grafana's own Foundation SDK types it (github.com/grafana/grafana-foundation-sdk/go, generated
// from Grafana's schemas): a strict decode (an unknown field, a wrong type or a missing required
// field is an error, panel options and queries included, by panel and datasource type), then the
// schema's constraints (Validate). Grafana's dashboard-linter is not served by the Go module
// proxy; this is the schema-level check that stands in for it.
//
//	grafana-dashboard-check <dashboard.json>...
//
// Prints each finding and exits 1 when any file has one.
package main

import (
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: grafana-dashboard-check <dashboard.json>...")
		os.Exit(2)
	}
	// Panel options and queries are decoded by the plugin's own types (timeseries, prometheus, …).
	plugins.RegisterDefaultPlugins()
	failed := false
	for _, file := range os.Args[1:] {
		raw, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			failed = true
			continue
		}
		var d dashboard.Dashboard
		if err := d.UnmarshalJSONStrict(raw); findings(err) {
			fmt.Printf("%s: schema: %v\n", file, err)
			failed = true
			continue
		}
		if err := d.Validate(); findings(err) {
			fmt.Printf("%s: constraints: %v\n", file, err)
			failed = true
			continue
		}
		fmt.Printf("%s: ok (%d panels)\n", file, len(d.Panels))
	}
	if failed {
		os.Exit(1)
	}
}

// findings: the SDK returns its error list as a typed nil (a non-nil error) when it found nothing.
func findings(err error) bool {
	if errs, ok := err.(cog.BuildErrors); ok {
		return len(errs) > 0
	}
	return err != nil
}
