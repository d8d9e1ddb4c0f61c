package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"zonetop/internal/audit"

	"zonetop/termsafe"
)

const auditUsage = "usage: zonetop audit [-z ZONE] [-n N] [-o table|json]\n"

// runAudit prints the audit log: a table by default, the stored JSON lines
// with -o json.
func runAudit(g *globals, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, rest, err := getopt(args, "z:n:o:")
	if err != nil {
		return usageFail(stderr, "audit", err, auditUsage)
	}
	if len(rest) > 0 {
		return usageFail(stderr, "audit", fmt.Errorf("unexpected argument %q", rest[0]), auditUsage)
	}
	zone, format := last(o, 'z'), last(o, 'o')
	if format == "" {
		format = "table"
	}
	if format != "table" && format != "json" {
		return usageFail(stderr, "audit", fmt.Errorf("-o %s: want table or json", format), auditUsage)
	}
	n := 0
	if has(o, 'n') {
		if n, err = strconv.Atoi(last(o, 'n')); err != nil || n < 0 {
			return usageFail(stderr, "audit", fmt.Errorf("-n %s: want a count of records", last(o, 'n')), auditUsage)
		}
	}
	recs, bad, err := audit.ReadAudit(g.root, audit.AuditQuery{Zone: zone, Last: n})
	if err != nil {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return 1
	}
	bw := bufio.NewWriter(stdout)
	defer bw.Flush()
	if format == "json" {
		for _, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				fmt.Fprintf(stderr, "audit: %v\n", err)
				return 1
			}
			// Valid JSON still may carry DEL, C1 or bidi runes raw.
			bw.Write(termsafe.JSON(b))
			bw.WriteByte('\n')
		}
	} else {
		tw := tabwriter.NewWriter(bw, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tWHO\tZONE\tWHAT\tBEFORE\tAFTER\tRESULT")
		for _, r := range recs {
			// A zone's user names come from its own /etc/passwd.
			who := termsafe.String(r.Principal.User)
			if who == "" {
				who = fmt.Sprintf("uid %d", r.Principal.UID)
			}
			if r.Principal.Zone != "global" {
				who += "@" + termsafe.String(r.Principal.Zone)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Local().Format(time.DateTime), who, termsafe.String(r.Zone),
				termsafe.String(r.What), oneLine(r.Before), oneLine(r.After), oneLine(r.Result))
		}
		tw.Flush()
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "audit: %d unreadable line(s) skipped in %s\n", bad, audit.AuditPath(g.root))
	}
	return 0
}

// oneLine keeps a table cell on one line and of a readable width; what
// a zone put in it is shown escaped, newlines between statements as " | ".
func oneLine(s string) string {
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		parts[i] = termsafe.String(p)
	}
	s = strings.Join(parts, " | ")
	if s == "" {
		return "-"
	}
	if r := []rune(s); len(r) > 60 {
		return string(r[:59]) + "…"
	}
	return s
}
