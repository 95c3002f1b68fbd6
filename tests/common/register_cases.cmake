# One CTest test per case of a Python test driver. The cases are defined
# once, in the driver, which lists them (`DRIVER [ARGS] --list`) one per
# line as "ID<TAB>TITLE". Each test is
# named "PREFIX: TITLE" and runs `DRIVER [ARGS] [RUN_ARGS] ID`.
#
#   sd_register_cases(PREFIX p DRIVER file.py [ARGS ...] [RUN_ARGS ...]
#     [BUILD "what" TARGETS t ...]
#     [TIME_LIMIT seconds] TIMEOUT seconds [SKIP_77] [LABELS l ...])
#
# BUILD: a fixture test "PREFIX: build WHAT" (with the cases' LABELS) first
# builds TARGETS, so that `ctest` alone never tests stale binaries.
# TIME_LIMIT: the driver runs under `timeout`, which stops it (and, through
# its SIGTERM handler, the case's processes) before CTest's own TIMEOUT.
# SKIP_77: exit status 77 means the case cannot run on this machine
# (skipped, not passed). -B everywhere: no __pycache__ in the source tree.
# The Python files of the driver's directory, the calling directory and this
# one (the shared sdtest.py) are configure dependencies.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
find_program(SD_TIMEOUT timeout REQUIRED)

function(sd_register_cases)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "SKIP_77" "PREFIX;DRIVER;BUILD;TIME_LIMIT;TIMEOUT"
                        "ARGS;RUN_ARGS;TARGETS;LABELS")
  get_filename_component(driver_dir ${ARG_DRIVER} DIRECTORY)
  file(GLOB sources CONFIGURE_DEPENDS ${driver_dir}/*.py ${CMAKE_CURRENT_SOURCE_DIR}/*.py
       ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/*.py)
  # One spelling per file: a file found through another directory
  # (policy/../common) would be named twice, and Ninja refuses two rules for
  # one output.
  set(normalized "")
  foreach(source IN LISTS sources)
    get_filename_component(source "${source}" REALPATH)
    list(APPEND normalized "${source}")
  endforeach()
  list(REMOVE_DUPLICATES normalized)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${normalized})

  execute_process(
    COMMAND ${Python3_EXECUTABLE} -B ${ARG_DRIVER} ${ARG_ARGS} --list
    OUTPUT_VARIABLE lines
    RESULT_VARIABLE list_result)
  if(NOT list_result EQUAL 0)
    message(FATAL_ERROR "${ARG_DRIVER} ${ARG_ARGS} --list failed (${list_result})")
  endif()

  set(fixture "")
  if(ARG_BUILD)
    set(fixture sd_${ARG_PREFIX}_built)
    add_test(NAME "${ARG_PREFIX}: build ${ARG_BUILD}"
      COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target ${ARG_TARGETS})
    # Every suite builds in the one build tree: two builds at once (ctest -j)
    # race on the same objects (one links a half-written cmd_*.o of the other).
    set_tests_properties("${ARG_PREFIX}: build ${ARG_BUILD}" PROPERTIES
      FIXTURES_SETUP ${fixture} TIMEOUT 600 RESOURCE_LOCK sd_build)
    if(ARG_LABELS)
      set_tests_properties("${ARG_PREFIX}: build ${ARG_BUILD}" PROPERTIES LABELS "${ARG_LABELS}")
    endif()
  endif()

  set(wrapper "")
  if(ARG_TIME_LIMIT)
    set(wrapper ${SD_TIMEOUT} --kill-after=5 ${ARG_TIME_LIMIT})
  endif()
  set(properties TIMEOUT ${ARG_TIMEOUT})
  if(fixture)
    list(APPEND properties FIXTURES_REQUIRED ${fixture})
  endif()
  if(ARG_SKIP_77)
    list(APPEND properties SKIP_RETURN_CODE 77)
  endif()
  if(ARG_LABELS)
    list(APPEND properties LABELS "${ARG_LABELS}")
  endif()

  string(REPLACE "\n" ";" lines "${lines}")
  foreach(line IN LISTS lines)
    if(line STREQUAL "")
      continue()
    endif()
    string(REPLACE "\t" ";" fields "${line}")
    list(GET fields 0 id)
    list(GET fields 1 title)
    add_test(NAME "${ARG_PREFIX}: ${title}"
      COMMAND ${wrapper} ${Python3_EXECUTABLE} -B ${ARG_DRIVER} ${ARG_ARGS} ${ARG_RUN_ARGS} ${id})
    set_tests_properties("${ARG_PREFIX}: ${title}" PROPERTIES ${properties})
  endforeach()
endfunction()
