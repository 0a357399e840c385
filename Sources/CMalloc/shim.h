// glibc's allocator tuning (mallopt), which Swift's Glibc module does not export. Used by Train only.
#include <malloc.h>
