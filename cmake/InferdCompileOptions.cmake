# Warnings are errors for inferd's own code. Generated code (protobuf stubs)
# is compiled without them; see proto/CMakeLists.txt.
# -Wno-restrict: g++ 12 reports false positives inside libstdc++'s
# std::string concatenation at -O3 (GCC bug 105651, fixed in g++ 13).
# -DINFERD_WERROR=OFF keeps the warnings but not the errors, for a foreign
# toolchain (the GPU machine's compiler is not Debian 12's g++ 12, and newer
# compilers warn about new things); CI and development builds keep it ON.
option(INFERD_WERROR "Treat warnings in inferd's own code as errors" ON)
add_library(inferd_warnings INTERFACE)
# (GCC-only: Clang has no -Wrestrict and rejects the unknown option.)
target_compile_options(inferd_warnings INTERFACE
  "$<$<COMPILE_LANGUAGE:CXX>:-Wall;-Wextra;-Wno-unused-parameter>"
  "$<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${INFERD_WERROR}>>:-Werror>"
  "$<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-restrict>")

# AVX2 + FMA + F16C is the CPU baseline (Haswell and later, every x86 server in
# service). -ffp-contract=off keeps the compiler from fusing a*b+c on its own,
# so a reduction order written in the source is the order that runs: this is
# what makes the CPU backend batch-invariant bit for bit.
set(INFERD_CPU_FLAGS -mavx2 -mfma -mf16c -ffp-contract=off CACHE STRING "CPU ISA flags")
add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:${INFERD_CPU_FLAGS}>")

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()
