# Writes the text file IN to OUT as a C++ raw string literal, so that a
# resource edited as its own file (the page of `sockdiag report --html`) is
# built into the command: cmake -DIN=... -DOUT=... -P embed_text.cmake
file(READ "${IN}" text)
string(FIND "${text}" ")sdtext\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} holds )sdtext\", which would end the raw string literal")
endif()
file(WRITE "${OUT}" "R\"sdtext(${text})sdtext\"\n")
