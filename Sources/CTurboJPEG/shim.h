#ifndef FERD_CTURBOJPEG_SHIM_H
#define FERD_CTURBOJPEG_SHIM_H
#include <turbojpeg.h>
#endif
