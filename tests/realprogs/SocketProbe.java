// A JVM (many threads of its own, its own signal handlers) opening sockets:
// a server thread pool echoes lines for CLIENTS client threads, then, when
// given a port, one connect to it (a port nobody listens on: refused).
// Usage: java SocketProbe [PORT]
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

public class SocketProbe {
  static final int CLIENTS = 8, LINES = 100;

  static void serve(Socket s) throws Exception {
    try (s;
         BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
         PrintWriter out = new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8)) {
      for (String line; (line = in.readLine()) != null; ) out.println(line.toUpperCase());
    }
  }

  static boolean talk(int port, int n) throws Exception {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
         BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
         PrintWriter out = new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8)) {
      for (int i = 0; i < LINES; i++) {
        String line = "client " + n + " line " + i;
        out.println(line);
        if (!line.toUpperCase().equals(in.readLine())) return false;
      }
      return true;
    }
  }

  public static void main(String[] args) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2 * CLIENTS);
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      int port = server.getLocalPort();
      List<Future<Boolean>> clients = new ArrayList<>();
      for (int n = 0; n < CLIENTS; n++) {
        final int id = n;
        clients.add(pool.submit(() -> talk(port, id)));
      }
      for (int n = 0; n < CLIENTS; n++) {
        Socket s = server.accept();
        pool.submit(() -> { serve(s); return null; });
      }
      int good = 0;
      for (Future<Boolean> f : clients) good += f.get() ? 1 : 0;
      System.out.println("echo: " + good + " of " + CLIENTS + " clients got every line back");
    }
    pool.shutdown();
    if (args.length > 0) {
      try (Socket s = new Socket("127.0.0.1", Integer.parseInt(args[0]))) {
        System.out.println("connected (unexpected)");
      } catch (ConnectException e) {
        System.out.println("refused: " + e.getMessage());
      }
    }
  }
}
