# inferd_gtest(NAME SOURCES a.cc b.cc LIBS lib... LABELS unit|golden|integration|gpu|slow ...)
# One executable per test file group; every TEST() becomes its own CTest test
# (gtest_discover_tests), labelled as DESIGN §9 says. Binaries go to build/tests/.
function(inferd_gtest name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main inferd_warnings)
  target_compile_definitions(${name} PRIVATE
    INFERD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    INFERD_BINARY_DIR="${CMAKE_BINARY_DIR}")
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    DISCOVERY_TIMEOUT 60
    NO_PRETTY_VALUES
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()
