/* The header's inline functions are all there is; SwiftPM wants one source file per C target. */
#include "CProcessorHints.h"
