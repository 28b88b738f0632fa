#ifndef FERD_COPENBLAS_SHIM_H
#define FERD_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
