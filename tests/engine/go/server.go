// The peer of the engine tests' Go client: listens on an ephemeral port of
// 127.0.0.1, prints "port: N", accepts one connection, reads the client's
// greeting (so the client's dial has certainly succeeded: a reset before
// would fail the dial itself) and ends the connection as MODE says, then
// exits. Stdlib only.
//
//	server reset   close with SO_LINGER 0: the kernel sends a reset (RST)
//	server close   an orderly close (FIN): the client reads the end of file
//	server serve   the server's own failures, observed: it reads on, and
//	               prints how the client ended ("read: EOF" or "read:
//	               ECONNRESET"); after an end of file it writes twice, the
//	               second write meeting the client's reset ("write: EPIPE")
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// serve: read until the client ends, then (after an orderly end) write
// until the client's kernel has answered with a reset.
func serve(conn net.Conn) {
	buf := make([]byte, 64)
	_, err := conn.Read(buf)
	fmt.Println("read:", errName(err))
	if !errors.Is(err, io.EOF) {
		return
	}
	_, err = conn.Write([]byte("late"))
	fmt.Println("write:", errName(err))
	// The client's reset answers the first write; the wait lets it arrive.
	time.Sleep(100 * time.Millisecond)
	_, err = conn.Write([]byte("late"))
	fmt.Println("write:", errName(err))
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "server: %s: %v\n", what, err)
	os.Exit(2)
}

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "reset" && os.Args[1] != "close" && os.Args[1] != "serve") {
		fmt.Fprintln(os.Stderr, "usage: server reset|close|serve")
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
	if os.Args[1] == "serve" {
		serve(conn)
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
