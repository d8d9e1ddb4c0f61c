package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"zonetop/engine"
)

const auditUsage = "usage: zonetop audit [-z ZONE] [-n N] [-o table|json]\n"

// runAudit prints the audit log: a table by default, the stored JSON lines
// with -o json.
func runAudit(g *globals, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	zone := fs.String("z", "", "only this zone")
	n := fs.Int("n", 0, "only the last N records")
	format := fs.String("o", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "audit: %v\n%s", err, auditUsage)
		return 2
	}
	if fs.NArg() > 0 || *n < 0 || (*format != "table" && *format != "json") {
		fmt.Fprint(stderr, "audit: bad arguments\n", auditUsage)
		return 2
	}
	recs, bad, err := engine.ReadAudit(g.root, engine.AuditQuery{Zone: *zone, Last: *n})
	if err != nil {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return 1
	}
	bw := bufio.NewWriter(stdout)
	defer bw.Flush()
	if *format == "json" {
		enc := json.NewEncoder(bw)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintf(stderr, "audit: %v\n", err)
				return 1
			}
		}
	} else {
		tw := tabwriter.NewWriter(bw, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tWHO\tZONE\tWHAT\tBEFORE\tAFTER\tRESULT")
		for _, r := range recs {
			who := r.Principal.User
			if who == "" {
				who = fmt.Sprintf("uid %d", r.Principal.UID)
			}
			if r.Principal.Zone != "global" {
				who += "@" + r.Principal.Zone
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Local().Format(time.DateTime), who, r.Zone, r.What,
				oneLine(r.Before), oneLine(r.After), oneLine(r.Result))
		}
		tw.Flush()
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "audit: %d unreadable line(s) skipped in %s\n", bad, engine.AuditPath(g.root))
	}
	return 0
}

// oneLine keeps a table cell on one line and of a readable width.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " | ")
	if s == "" {
		return "-"
	}
	if r := []rune(s); len(r) > 60 {
		return string(r[:59]) + "…"
	}
	return s
}
