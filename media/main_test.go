package media

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (a
// stream's fan-out helpers must end with its publisher).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
