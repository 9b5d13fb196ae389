# -DINFERD_BUILD_FUZZERS=ON: libFuzzer targets for the parsers of outside
# bytes (tests/fuzz/). Clang only. Use a separate build directory (see
# scripts/fuzz.sh): every library is compiled with
# -fsanitize=fuzzer-no-link,address,undefined (coverage + sanitizers), the
# fuzz targets themselves with -fsanitize=fuzzer,address,undefined. UBSan
# findings abort (-fno-sanitize-recover), so they are crashes the fuzzer keeps.
option(INFERD_BUILD_FUZZERS "Build the libFuzzer targets in tests/fuzz (Clang only)" OFF)
# Seconds each `fuzz`-labelled CTest test fuzzes for; raise on demand
# (scripts/fuzz.sh 600, or -DINFERD_FUZZ_SECONDS=600).
set(INFERD_FUZZ_SECONDS 10 CACHE STRING "Seconds each fuzz CTest test runs for")

if(INFERD_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang" OR NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR
      "INFERD_BUILD_FUZZERS=ON needs Clang with libFuzzer (apt-get install clang); configure a "
      "separate build directory with CC=clang CXX=clang++ (see scripts/fuzz.sh)")
  endif()
  set(INFERD_FUZZ_SANITIZERS address,undefined)
  add_compile_options(-fsanitize=fuzzer-no-link,${INFERD_FUZZ_SANITIZERS}
                      -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${INFERD_FUZZ_SANITIZERS})
  # Clang-only warnings on code g++ accepts; kept to this build so the
  # g++ build's -Werror set is unchanged.
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:-Wno-unused-command-line-argument>")
  message(STATUS "inferd: libFuzzer targets ON (${INFERD_FUZZ_SECONDS} s per fuzz test)")
endif()
