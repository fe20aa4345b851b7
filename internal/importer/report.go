package importer

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Status is what happened to an item.
type Status string

// The outcomes of an item. In a dry run, Imported means "would be
// imported".
const (
	Imported  Status = "imported"
	Unchanged Status = "unchanged"
	Conflict  Status = "conflict"
	Error     Status = "error"
	Warning   Status = "warning"
)

// Entry is the outcome of one item, or one problem.
type Entry struct {
	Kind   Kind   `json:"kind"`
	Item   string `json:"item,omitempty"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
	Source string `json:"source,omitempty"`
}

// Counts are the number of entries of one kind by status.
type Counts struct {
	Imported  int `json:"imported"`
	Unchanged int `json:"unchanged"`
	Conflicts int `json:"conflicts"`
	Errors    int `json:"errors"`
	Warnings  int `json:"warnings"`
}

// Report is the outcome of an import.
type Report struct {
	DryRun  bool
	Entries []Entry
}

func (r *Report) add(k Kind, item string, s Status, reason string, src Where) {
	r.Entries = append(r.Entries, Entry{Kind: k, Item: item, Status: s, Reason: reason, Source: srcText(src)})
}

func srcText(w Where) string {
	if w.Path == "" {
		return ""
	}
	return w.String()
}

// Summary counts the entries per kind.
func (r *Report) Summary() map[Kind]Counts {
	m := make(map[Kind]Counts, len(Kinds))
	for _, k := range Kinds {
		m[k] = Counts{}
	}
	for _, e := range r.Entries {
		c := m[e.Kind]
		switch e.Status {
		case Imported:
			c.Imported++
		case Unchanged:
			c.Unchanged++
		case Conflict:
			c.Conflicts++
		case Error:
			c.Errors++
		case Warning:
			c.Warnings++
		}
		m[e.Kind] = c
	}
	return m
}

// Failures returns how many items conflicted and how many had errors.
// An import succeeded when both are zero.
func (r *Report) Failures() (conflicts, errors int) {
	for _, e := range r.Entries {
		switch e.Status {
		case Conflict:
			conflicts++
		case Error:
			errors++
		}
	}
	return conflicts, errors
}

// OK reports whether nothing conflicted or failed.
func (r *Report) OK() bool {
	c, e := r.Failures()
	return c == 0 && e == 0
}

// plural names kind k for the summary table.
func plural(k Kind) string {
	if k == KindMailbox {
		return "mailboxes"
	}
	return string(k) + "s"
}

// WriteText writes the report for people: one line per item that was not
// unchanged (those are only counted), then the summary table.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.DryRun {
		b.WriteString("dry run: nothing was changed; “would import” is what an import would do\n")
	}
	imported := string(Imported)
	if r.DryRun {
		imported = "would import"
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, e := range r.Entries {
		if e.Status == Unchanged {
			continue
		}
		status := string(e.Status)
		if e.Status == Imported {
			status = imported
		}
		what := string(e.Kind)
		if e.Item != "" {
			what += " " + e.Item
		}
		detail := e.Reason
		if e.Source != "" {
			if detail != "" {
				detail += " "
			}
			detail += "(" + e.Source + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", status, what, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Entries) > 0 {
		b.WriteString("\n")
	}
	head := "IMPORTED"
	if r.DryRun {
		head = "WOULD IMPORT"
	}
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "KIND\t%s\tUNCHANGED\tCONFLICTS\tERRORS\tWARNINGS\n", head)
	sum := r.Summary()
	var total Counts
	for _, k := range Kinds {
		c := sum[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", plural(k), c.Imported, c.Unchanged, c.Conflicts, c.Errors, c.Warnings)
		total.Imported += c.Imported
		total.Unchanged += c.Unchanged
		total.Conflicts += c.Conflicts
		total.Errors += c.Errors
		total.Warnings += c.Warnings
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\n", total.Imported, total.Unchanged, total.Conflicts, total.Errors, total.Warnings)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonReport is the JSON form of a report.
type jsonReport struct {
	DryRun  bool            `json:"dry_run"`
	OK      bool            `json:"ok"`
	Summary map[Kind]Counts `json:"summary"`
	Entries []Entry         `json:"entries"`
}

// WriteJSON writes the report as one JSON object: dry_run, ok (nothing
// conflicted or failed), summary (counts per kind) and entries (every
// item, unchanged ones included).
func (r *Report) WriteJSON(w io.Writer) error {
	entries := r.Entries
	if entries == nil {
		entries = []Entry{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonReport{DryRun: r.DryRun, OK: r.OK(), Summary: r.Summary(), Entries: entries})
}
