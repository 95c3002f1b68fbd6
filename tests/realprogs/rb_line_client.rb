# Client of a line echo server on 127.0.0.1:PORT (the argument): sends
# LINES lines over one TCPSocket and checks each echo. Prints how many came
# back, or the connect's error (class and message) with exit status 1.
require "socket"

LINES = 200
port = Integer(ARGV[0])
begin
  sock = TCPSocket.new("127.0.0.1", port)
rescue SystemCallError => e
  puts "connect: #{e.class}: #{e.message}"
  exit 1
end
good = 0
LINES.times do |i|
  line = "ruby line #{i} #{'x' * (i % 50)}\n"
  sock.write(line)
  good += 1 if sock.gets == line
end
sock.close
puts "echo: #{good} of #{LINES} lines back"
