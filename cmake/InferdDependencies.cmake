# Every dependency comes from Debian 12 packages (scripts/setup.sh installs them).
# On the GPU machine (-DINFERD_BUILD_SERVER=OFF) they come from a .sysroot on
# CMAKE_PREFIX_PATH (../shared/scripts/device-sysroot.sh, scripts/gpu_check.sh)
# and pkg-config may be missing: PCRE2 and utf8proc are then found directly.
if(INFERD_BUILD_SERVER)
  find_package(PkgConfig REQUIRED)
else()
  find_package(PkgConfig)
endif()
find_package(Threads REQUIRED)
find_package(absl REQUIRED)
find_package(nlohmann_json 3 REQUIRED)

# PkgConfig::<PREFIX> for a C library: pkg-config's module when it has one,
# else the header and library found on the CMake search paths.
function(inferd_find_c_library prefix module header library)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(${prefix} IMPORTED_TARGET GLOBAL ${module})
  endif()
  if(NOT TARGET PkgConfig::${prefix})
    find_path(${prefix}_HEADER_DIR ${header} REQUIRED)
    find_library(${prefix}_LIBRARY ${library} REQUIRED)
    add_library(PkgConfig::${prefix} INTERFACE IMPORTED GLOBAL)
    target_include_directories(PkgConfig::${prefix} INTERFACE ${${prefix}_HEADER_DIR})
    target_link_libraries(PkgConfig::${prefix} INTERFACE ${${prefix}_LIBRARY})
    message(STATUS "inferd: ${module} without pkg-config: ${${prefix}_LIBRARY}")
  endif()
endfunction()
inferd_find_c_library(PCRE2 libpcre2-8 pcre2.h pcre2-8)
inferd_find_c_library(UTF8PROC libutf8proc utf8proc.h utf8proc)

if(INFERD_BUILD_SERVER)
  # Debian's gRPC 1.51 ships pkg-config files; its CMake config is incomplete.
  pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++)
  find_library(GRPCPP_REFLECTION_LIB grpc++_reflection REQUIRED)
  find_package(Protobuf REQUIRED)
  find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
  find_program(GRPC_PYTHON_PLUGIN grpc_python_plugin)
  find_package(prometheus-cpp CONFIG REQUIRED)
  # TLS certificate checks and API-key digests (server/auth); the OpenSSL that
  # Debian's gRPC links (libssl-dev comes with libgrpc-dev).
  find_package(OpenSSL REQUIRED)
endif()
if(INFERD_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
  include(InferdTesting)
endif()
if(INFERD_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
