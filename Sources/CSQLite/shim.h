#ifndef FERD_CSQLITE_SHIM_H
#define FERD_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
