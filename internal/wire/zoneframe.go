package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"zonetop/limits"
)

// zoneSockMax bounds one message either way.
const ZoneSockMax = 64 << 10

// errFraming is a broken frame: the connection cannot go on.
var ErrFraming = errors.New("zone socket framing")

// readZoneFrame reads one length-prefixed message.
func ReadZoneFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated length", ErrFraming)
		}
		return nil, err // io.EOF: the client is done
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > ZoneSockMax {
		return nil, fmt.Errorf("%w: message of %d bytes (limit %d)", ErrFraming, n, ZoneSockMax)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%w: truncated message (%v)", ErrFraming, err)
	}
	return b, nil
}

// writeZoneFrame writes v as one length-prefixed message.
func WriteZoneFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > ZoneSockMax {
		return fmt.Errorf("message of %d bytes exceeds %d", len(b), ZoneSockMax)
	}
	out := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(out, uint32(len(b)))
	copy(out[4:], b)
	_, err = w.Write(out)
	return err
}

// ProjectList answers the zone socket's "list" project request: the
// zone's projects and, for lines of its /etc/project that do not apply,
// file:line: why. It is limits' type on the wire, so the socket's client
// decodes what zoneadmd encodes from one declaration.
type ProjectList struct {
	Projects limits.Projects `json:"projects"`
	Bad      []string        `json:"bad,omitempty"`
}
