package zones

import (
	"fmt"
	"strings"
)

// Pos is a 1-based line and column (in bytes) in zonecfg input.
type Pos struct{ Line, Col int }

// ParseError is a syntax or semantic error at a place in the input. The
// front end prefixes the file name: "web01.cfg:3:9: ...".
type ParseError struct {
	Pos
	Msg string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

func errAt(p Pos, format string, args ...any) *ParseError {
	return &ParseError{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokQuoted
	tokEq
	tokLParen
	tokRParen
	tokLBrack
	tokRBrack
	tokComma
	tokSep // ';' or newline
)

func (k tokKind) String() string {
	switch k {
	case tokEOF:
		return "end of input"
	case tokWord:
		return "word"
	case tokQuoted:
		return "quoted string"
	case tokEq:
		return "'='"
	case tokLParen:
		return "'('"
	case tokRParen:
		return "')'"
	case tokLBrack:
		return "'['"
	case tokRBrack:
		return "']'"
	case tokComma:
		return "','"
	case tokSep:
		return "end of command"
	}
	return "token"
}

type token struct {
	kind tokKind
	text string
	pos  Pos
}

func (t token) describe() string {
	switch t.kind {
	case tokWord:
		return fmt.Sprintf("%q", t.text)
	case tokQuoted:
		return fmt.Sprintf("quoted %q", t.text)
	case tokSep:
		if t.text == ";" {
			return "';'"
		}
		return "end of line"
	}
	return t.kind.String()
}

// lex splits zonecfg input into tokens. Outside brackets and parentheses a
// comma belongs to the word (set limitpriv=default,sys_time), inside them it
// separates elements, as in illumos.
func lex(src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	depth := 0
	i := 0
	adv := func(n int) {
		for k := 0; k < n; k++ {
			if src[i] == '\n' {
				line++
				col = 1
			} else {
				col++
			}
			i++
		}
	}
	for i < len(src) {
		ch := src[i]
		p := Pos{line, col}
		switch {
		case ch == '\n':
			toks = append(toks, token{tokSep, "\n", p})
			depth = 0
			adv(1)
		case ch == ' ' || ch == '\t' || ch == '\r':
			adv(1)
		case ch == '#':
			for i < len(src) && src[i] != '\n' {
				adv(1)
			}
		case ch == ';':
			toks = append(toks, token{tokSep, ";", p})
			depth = 0
			adv(1)
		case ch == '=':
			toks = append(toks, token{tokEq, "=", p})
			adv(1)
		case ch == '(':
			toks = append(toks, token{tokLParen, "(", p})
			depth++
			adv(1)
		case ch == ')':
			toks = append(toks, token{tokRParen, ")", p})
			if depth > 0 {
				depth--
			}
			adv(1)
		case ch == '[':
			toks = append(toks, token{tokLBrack, "[", p})
			depth++
			adv(1)
		case ch == ']':
			toks = append(toks, token{tokRBrack, "]", p})
			if depth > 0 {
				depth--
			}
			adv(1)
		case ch == ',' && depth > 0:
			toks = append(toks, token{tokComma, ",", p})
			adv(1)
		case ch == '"':
			adv(1)
			var b strings.Builder
			closed := false
			for i < len(src) {
				c := src[i]
				if c == '\n' {
					break
				}
				if c == '\\' && i+1 < len(src) && (src[i+1] == '"' || src[i+1] == '\\') {
					b.WriteByte(src[i+1])
					adv(2)
					continue
				}
				if c == '"' {
					adv(1)
					closed = true
					break
				}
				b.WriteByte(c)
				adv(1)
			}
			if !closed {
				return toks, errAt(p, "unterminated quoted string, expected a closing '\"' on the same line")
			}
			toks = append(toks, token{tokQuoted, b.String(), p})
		default:
			start := i
			for i < len(src) {
				c := src[i]
				if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '=' ||
					c == '(' || c == ')' || c == '[' || c == ']' || c == '"' || (c == ',' && depth > 0) {
					break
				}
				adv(1)
			}
			toks = append(toks, token{tokWord, src[start:i], p})
		}
	}
	toks = append(toks, token{tokEOF, "", Pos{line, col}})
	return toks, nil
}

// ValueKind tells a simple value from a list or a complex value.
type ValueKind int

// Value kinds of the zonecfg language.
const (
	Simple ValueKind = iota
	List
	Complex
)

// Value is a property value: simple "foo", list [a,b] or complex (k=v,...).
type Value struct {
	Pos   Pos
	Kind  ValueKind
	Str   string
	List  []Value
	Pairs []Pair
}

// Pair is one name=value element of a complex value.
type Pair struct {
	Pos   Pos
	Name  string
	Value string
}

func (v Value) String() string {
	switch v.Kind {
	case List:
		parts := make([]string, len(v.List))
		for i, e := range v.List {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, ",") + "]"
	case Complex:
		parts := make([]string, len(v.Pairs))
		for i, p := range v.Pairs {
			parts[i] = p.Name + "=" + quoteIfNeeded(p.Value)
		}
		return "(" + strings.Join(parts, ",") + ")"
	}
	return quoteIfNeeded(v.Str)
}

// elements returns a value as a list of its elements: a single value is
// the same as a one-element list, as zonecfg(8) says.
func (v Value) elements() []Value {
	if v.Kind == List {
		return v.List
	}
	return []Value{v}
}

// Arg is one argument of a command: a word (resource type, flag), an
// assignment prop=value, or a bare list/complex value.
type Arg struct {
	Pos    Pos
	Word   string // set for words and for the name of an assignment
	Assign bool
	Value  Value // set for assignments and bare values
	Bare   bool  // a bare list or complex value, or a quoted word
}

// Command is one parsed subcommand.
type Command struct {
	Pos  Pos
	Name string
	Args []Arg
}

// Parse splits zonecfg input into commands. Blank lines and comments give
// no command. It checks syntax only; meaning is checked when a command runs.
func Parse(src string) ([]Command, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	var cmds []Command
	for {
		for p.peek().kind == tokSep {
			p.next()
		}
		if p.peek().kind == tokEOF {
			return cmds, nil
		}
		c, err := p.command()
		if err != nil {
			return cmds, err
		}
		cmds = append(cmds, c)
	}
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) command() (Command, error) {
	t := p.next()
	if t.kind != tokWord {
		return Command{}, errAt(t.pos, "unexpected %s, expected a subcommand (add, set, end, commit, ...; try help)", t.describe())
	}
	c := Command{Pos: t.pos, Name: t.text}
	for {
		t := p.peek()
		switch t.kind {
		case tokSep, tokEOF:
			return c, nil
		case tokWord, tokQuoted:
			p.next()
			if p.peek().kind == tokEq && t.kind == tokWord {
				p.next()
				v, err := p.value(true)
				if err != nil {
					return c, err
				}
				c.Args = append(c.Args, Arg{Pos: t.pos, Word: t.text, Assign: true, Value: v})
				continue
			}
			c.Args = append(c.Args, Arg{Pos: t.pos, Word: t.text, Value: Value{Pos: t.pos, Str: t.text}, Bare: t.kind == tokQuoted})
		case tokLBrack, tokLParen:
			v, err := p.value(false)
			if err != nil {
				return c, err
			}
			c.Args = append(c.Args, Arg{Pos: t.pos, Value: v, Bare: true})
		default:
			return c, errAt(t.pos, "unexpected %s, expected a property, value or end of command", t.describe())
		}
	}
}

// value parses a simple, list or complex value.
func (p *parser) value(afterEq bool) (Value, error) {
	t := p.next()
	switch t.kind {
	case tokWord, tokQuoted:
		return Value{Pos: t.pos, Kind: Simple, Str: t.text}, nil
	case tokLBrack:
		v := Value{Pos: t.pos, Kind: List}
		if p.peek().kind == tokRBrack {
			p.next()
			return v, nil
		}
		for {
			el, err := p.listElement()
			if err != nil {
				return v, err
			}
			v.List = append(v.List, el)
			t := p.next()
			if t.kind == tokRBrack {
				return v, nil
			}
			if t.kind != tokComma {
				return v, errAt(t.pos, "unexpected %s in list, expected ',' or ']'", t.describe())
			}
		}
	case tokLParen:
		return p.complexRest(t.pos)
	}
	what := "a value"
	if afterEq {
		what = "a value after '='"
	}
	return Value{}, errAt(t.pos, "unexpected %s, expected %s (word, \"quoted\", [list] or (name=value,...))", t.describe(), what)
}

func (p *parser) listElement() (Value, error) {
	t := p.next()
	switch t.kind {
	case tokWord, tokQuoted:
		return Value{Pos: t.pos, Kind: Simple, Str: t.text}, nil
	case tokLParen:
		return p.complexRest(t.pos)
	}
	return Value{}, errAt(t.pos, "unexpected %s in list, expected a value or (name=value,...)", t.describe())
}

func (p *parser) complexRest(open Pos) (Value, error) {
	v := Value{Pos: open, Kind: Complex}
	for {
		nt := p.next()
		if nt.kind == tokRParen && len(v.Pairs) == 0 {
			return v, errAt(nt.pos, "empty complex value, expected (name=value,...)")
		}
		if nt.kind != tokWord {
			return v, errAt(nt.pos, "unexpected %s in complex value, expected name=value", nt.describe())
		}
		if eq := p.next(); eq.kind != tokEq {
			return v, errAt(eq.pos, "unexpected %s after %q, expected '='", eq.describe(), nt.text)
		}
		vt := p.next()
		if vt.kind != tokWord && vt.kind != tokQuoted {
			return v, errAt(vt.pos, "unexpected %s, expected a value for %s", vt.describe(), nt.text)
		}
		val := vt.text
		// action=signal=SIGXRES: the value itself may hold '='.
		for p.peek().kind == tokEq {
			p.next()
			more := p.next()
			if more.kind != tokWord && more.kind != tokQuoted {
				return v, errAt(more.pos, "unexpected %s, expected a value after '='", more.describe())
			}
			val += "=" + more.text
		}
		for _, old := range v.Pairs {
			if old.Name == nt.text {
				return v, errAt(nt.pos, "%s is given twice in one complex value", nt.text)
			}
		}
		v.Pairs = append(v.Pairs, Pair{Pos: nt.pos, Name: nt.text, Value: val})
		t := p.next()
		if t.kind == tokRParen {
			return v, nil
		}
		if t.kind != tokComma {
			return v, errAt(t.pos, "unexpected %s in complex value, expected ',' or ')'", t.describe())
		}
	}
}

// quoteIfNeeded renders a simple value so that lex reads it back as one
// word with the same text.
func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	need := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n', ';', '=', '(', ')', '[', ']', '"', ',', '#', '\\':
			need = true
		}
	}
	if !need {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
