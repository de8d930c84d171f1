package synth

import "golang.org/x/sys/unix"

// exchange atomically swaps the directories a and b (renameat2 with
// RENAME_EXCHANGE), so that no reader ever finds b missing.
func exchange(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}
