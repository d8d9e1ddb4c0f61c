package console_test

import (
	"fmt"

	"zonetop/console"
)

// A zlogin -C client passes each read from the user's terminal through an
// Escaper before sending it to the zone.
func ExampleEscaper() {
	var esc console.Escaper // '~' by default
	for _, read := range []string{"uname -a\r", "~~ is home\r", "~", "."} {
		out, detach := esc.Filter(nil, []byte(read))
		fmt.Printf("send %q\n", out)
		if detach {
			fmt.Println("detached")
			break
		}
	}
	// Output:
	// send "uname -a\r"
	// send "~ is home\r"
	// send ""
	// send ""
	// detached
}
