// common/memory_limit.h — how much memory this process may use, to check a
// size that comes from outside (a flag, a config field) against the memory it
// implies before anything is allocated.
#ifndef INFERD_COMMON_MEMORY_LIMIT_H_
#define INFERD_COMMON_MEMORY_LIMIT_H_

#include <cstdint>
#include <string>

namespace inferd {

// The machine's physical memory, or the cgroup's memory limit when one is set
// and lower (a Kubernetes container's limits.memory: cgroup v2 memory.max,
// else v1 memory.limit_in_bytes). Read once and cached.
int64_t MemoryLimitBytes();

// "23.4 GiB" (one decimal, binary units), for messages.
std::string FormatBytes(double bytes);

}  // namespace inferd

#endif  // INFERD_COMMON_MEMORY_LIMIT_H_
