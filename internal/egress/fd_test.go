package egress

import (
	"strings"
	"testing"
)

// TestSharedFDMisuse: the loan rules are enforced, not documented: a
// second loan, a loan returned twice, and a close while lent (which
// leaves the close to the loan, exactly once) behave as the type says.
func TestSharedFDMisuse(t *testing.T) {
	closes := 0
	f := NewSharedFD(7, func() error { closes++; return nil })
	loan, ok := f.Lend()
	if !ok || loan.FD() != 7 {
		t.Fatalf("Lend = %v, %v", loan.FD(), ok)
	}
	mustPanic(t, "lent twice", func() { f.Lend() })
	if err := f.Close(); err != nil || closes != 0 {
		t.Fatalf("Close while lent closed %d times, %v; want it left to the loan", closes, err)
	}
	loan.Return()
	if closes != 1 {
		t.Fatalf("returning the loan closed %d times, want 1", closes)
	}
	mustPanic(t, "returned twice", loan.Return)
	if err := f.Close(); err != nil || closes != 1 {
		t.Fatalf("a second Close closed again (%d), %v", closes, err)
	}
	if _, ok := f.Lend(); ok {
		t.Fatal("a closed descriptor was lent")
	}

	g := NewSharedFD(8, func() error { closes++; return nil })
	l, _ := g.Lend()
	l.Return()
	if closes != 1 {
		t.Fatal("returning a loan without a Close closed the socket")
	}
	_ = g.Close()
	if closes != 2 {
		t.Fatal("Close without a loan did not close")
	}
}

func mustPanic(t *testing.T, want string, fn func()) {
	t.Helper()
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, want) {
			t.Fatalf("panic %v, want one saying %q", r, want)
		}
	}()
	fn()
}
