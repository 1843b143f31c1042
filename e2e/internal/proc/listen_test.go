package proc

import (
	"net"
	"os"
	"runtime"
	"slices"
	"testing"
)

func TestListeningSeesOwnSockets(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	loop, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	wide, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Close()
	all, err := Listening(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(all, loop.Addr().String()) || !slices.Contains(all, wide.Addr().String()) {
		t.Errorf("Listening = %v, want both %s and %s", all, loop.Addr(), wide.Addr())
	}
	bad, err := NotLoopback(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bad, []string{wide.Addr().String()}) {
		t.Errorf("NotLoopback = %v, want only %s", bad, wide.Addr())
	}
}
