// The hints are static inline functions in include/MemoryHints.h; SwiftPM needs one source file.
#include "MemoryHints.h"
