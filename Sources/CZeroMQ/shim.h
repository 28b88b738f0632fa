#ifndef FERD_CZEROMQ_SHIM_H
#define FERD_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
