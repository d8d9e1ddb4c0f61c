package ui

import (
	"fmt"
	"io"
	"strings"
	"testing"

	cscreen "zonetop/console/screen"
)

// BenchmarkPaneEcho is one echoed key: a character written to a full
// 120×25 login pane and the direct write that draws it.
func BenchmarkPaneEcho(b *testing.B) {
	pn := &pane{id: 1, screen: cscreen.New(120, 25, nil)}
	b.Cleanup(func() { _ = pn.screen.Close() })
	var out strings.Builder
	for i := range 30 {
		fmt.Fprintf(&out, "\x1b[1;32mroot@zone\x1b[0m:/var/log# ls -l file%03d   \x1b[34mdirectory\x1b[0m  some more text here\r\n", i)
	}
	_, _ = pn.screen.Write([]byte(out.String()))
	o := &termOut{w: io.Discard, live: true, place: echoPlace{pane: 1, top: 12, cols: 120, rows: 24, width: 120}}
	o.echo(pn)
	b.ResetTimer()
	for i := range b.N {
		_, _ = pn.screen.Write([]byte{"QXJKVW"[i%6]})
		o.echo(pn)
	}
}
