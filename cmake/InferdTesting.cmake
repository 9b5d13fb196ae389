# inferd_gtest(NAME SOURCES a.cc b.cc LIBS lib... LABELS unit|golden|integration|gpu|slow ...
#              [SERIAL])
# One executable per test file group; every TEST() becomes its own CTest test
# (gtest_discover_tests), labelled as DESIGN §9 says. Binaries go to build/tests/.
# SERIAL: CTest runs these tests with nothing beside them (RUN_SERIAL), for
# tests that compare timings taken minutes apart (another test's daemon
# starting in between would move one side only).
function(inferd_gtest name)
  cmake_parse_arguments(T "SERIAL" "TIMEOUT" "SOURCES;LIBS;LABELS;CPU_ISAS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main inferd_warnings)
  target_compile_definitions(${name} PRIVATE
    INFERD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    INFERD_BINARY_DIR="${CMAKE_BINARY_DIR}")
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # gtest_discover_tests splits a list in PROPERTIES (LABELS "a;b" would give
  # the label a and a property named b): it gets the first label, and a CTest
  # include file read after the discovered tests sets them all.
  list(GET T_LABELS 0 first_label)
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    DISCOVERY_TIMEOUT 60
    NO_PRETTY_VALUES
    PROPERTIES LABELS "${first_label}" TIMEOUT ${T_TIMEOUT} RUN_SERIAL ${T_SERIAL})
  # CPU_ISAS avx2 ...: every test once more with the CPU kernels forced onto
  # that path (INFERD_CPU_ISA, kernels/cpu_isa.h), named <test>.cpu_isa_<isa>.
  # Only paths every machine runs belong here (avx2, the floor): a forced
  # path the CPU lacks aborts the process.
  foreach(isa IN LISTS T_CPU_ISAS)
    gtest_discover_tests(${name}
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      DISCOVERY_TIMEOUT 60
      NO_PRETTY_VALUES
      TEST_SUFFIX ".cpu_isa_${isa}"
      TEST_LIST ${name}_${isa}_TESTS
      PROPERTIES LABELS "${first_label}" TIMEOUT ${T_TIMEOUT} ENVIRONMENT "INFERD_CPU_ISA=${isa}")
  endforeach()
  list(LENGTH T_LABELS num_labels)
  if(num_labels GREATER 1)
    set(labels_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake")
    file(WRITE "${labels_file}"
         "foreach(t IN LISTS ${name}_TESTS)\n"
         "  set_tests_properties(\"\${t}\" PROPERTIES LABELS \"${T_LABELS}\")\n"
         "endforeach()\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${labels_file}")
  endif()
endfunction()
