package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/batchscore/batchscore/internal/appzip"
)

const zipUsage = `usage: batchscore zip [-app dist] [-out dist.zip]
Packs the app folder laid out by "make package" into the zip Azure Functions runs from
(WEBSITE_RUN_FROM_PACKAGE, docs/deploy.md): host.json, the handler stored with its executable bit, and each
<function>/function.json; local.settings*.json, databases and any other file are left out and listed.
`

// runZip is `batchscore zip`: the deployment package (see internal/appzip).
func runZip(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("zip", flag.ContinueOnError)
	app := fs.String("app", "dist", "app folder laid out by `make package`")
	out := fs.String("out", "dist.zip", "package to write (replaced only once complete)")
	if help, err := parseFlags(fs, args, zipUsage, stdout); help || err != nil {
		return err
	}
	rep, err := appzip.WriteFile(*out, *app)
	if err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	var files int
	var bytes int64
	for _, e := range rep.Entries {
		if !e.Mode.IsDir() {
			files++
			bytes += e.Size
		}
	}
	fmt.Fprintf(stdout, "%s: %d files, %d bytes uncompressed; %s stored with mode 0755\n", *out, files, bytes, rep.Executable)
	if len(rep.LeftOut) > 0 {
		fmt.Fprintf(stdout, "left out of the package: %s\n", strings.Join(rep.LeftOut, ", "))
	}
	return nil
}
