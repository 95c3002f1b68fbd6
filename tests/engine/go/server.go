// The peer of the engine tests' Go client: listens on an ephemeral port of
// 127.0.0.1, prints "port: N", accepts one connection, reads the client's
// greeting (so the client's dial has certainly succeeded: a reset before
// would fail the dial itself) and ends the connection as MODE says, then
// exits. Stdlib only.
//
//	server reset   close with SO_LINGER 0: the kernel sends a reset (RST)
//	server close   an orderly close (FIN): the client reads the end of file
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "server: %s: %v\n", what, err)
	os.Exit(2)
}

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "reset" && os.Args[1] != "close") {
		fmt.Fprintln(os.Stderr, "usage: server reset|close")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fail("listen", err)
	}
	fmt.Printf("port: %d\n", ln.Addr().(*net.TCPAddr).Port)
	// A client that never comes must not hold the test: give up after 20 s.
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		fail("accept", err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	greeting := make([]byte, len("hello"))
	if _, err := io.ReadFull(conn, greeting); err != nil {
		fail("read the greeting", err)
	}
	if os.Args[1] == "reset" {
		if err := conn.(*net.TCPConn).SetLinger(0); err != nil {
			fail("SetLinger", err)
		}
	}
	if err := conn.Close(); err != nil {
		fail("close", err)
	}
	ln.Close()
	fmt.Println("closed")
}
