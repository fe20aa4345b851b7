package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/cpanelimport"
	"github.com/uapid/uapid/internal/importer"
)

const importCPanelUsage = "usage: uapid import-cpanel [--dry-run] [--json FILE] [--allow-restricted-tokens] PATH...\n\n" +
	"PATH is the root of a cPanel server's file system (or a copy of its relevant parts),\n" +
	"a pkgacct archive (cpmove-USER.tar.gz, backup-…_USER.tar.gz; gzip-compressed or plain tar),\n" +
	"or such an archive unpacked into a directory. See docs/import-cpanel.md."

// importCPanelCmd is `uapid import-cpanel`: it reads every PATH first
// (nothing is written before all are read), then brings their accounts,
// mailboxes and tokens into the store through the account lifecycle,
// create-only, and prints the report. It fails (exit 1) when any item
// conflicted or had an error; the report says which.
func importCPanelCmd(args []string, env *Env) error {
	fs, vals := adminFlags("uapid import-cpanel", env)
	dryRun := fs.Bool("dry-run", false, "decide everything as an import would, change nothing, and print what would happen")
	jsonFile := fs.String("json", "", "also write the report as JSON to FILE (\"-\": to standard output, instead of the text)")
	allowRestricted := fs.Bool("allow-restricted-tokens", false, "also import the API tokens cPanel limited to some ACLs or features, with all of their owner's rights")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageErr(importCPanelUsage)
	}
	opt := cpanelimport.Options{AllowRestrictedTokens: *allowRestricted}
	batches := make([]importer.Batch, 0, len(pos))
	for _, p := range pos {
		batches = append(batches, cpanelimport.Read(p, opt))
	}
	run := func(ctx context.Context, a *app.App) error {
		im := importer.Importer{Dir: a.Dir, Accounts: a.Accounts, By: cliActor("import-cpanel"), DryRun: *dryRun}
		rep, runErr := im.Run(ctx, batches...)
		if err := writeReport(rep, *jsonFile, env); err != nil {
			return err
		}
		if runErr != nil {
			return fmt.Errorf("the import stopped: %w", runErr)
		}
		if c, e := rep.Failures(); c+e > 0 {
			return fmt.Errorf("%d conflict(s) and %d error(s); the report above lists them", c, e)
		}
		return nil
	}
	if *dryRun {
		// A dry run needs the store as it is, and must not create one.
		ctx := context.Background()
		a, closeApp, err := openExisting(ctx, vals, env)
		if err != nil {
			return err
		}
		defer closeApp()
		return run(ctx, a)
	}
	return withApp(vals, env, run)
}

// writeReport prints the report as text on standard output and, with
// --json, as JSON to the file ("-": standard output, instead of the text).
func writeReport(rep *importer.Report, jsonFile string, env *Env) error {
	if jsonFile == "-" {
		return rep.WriteJSON(env.Stdout)
	}
	if err := rep.WriteText(env.Stdout); err != nil {
		return err
	}
	if jsonFile == "" {
		return nil
	}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		return err
	}
	if err := os.WriteFile(jsonFile, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}
