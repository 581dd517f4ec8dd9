/* Prints every CONST, ENV and MSG of native/wire/wire.def as the C side sees it (through wire.h),
 * as one JSON object; test/unit/wire/wire-constants-match.test.ts compares it with
 * src/wire/wire.generated.ts. Build: cc -Inative/wire native/test/print_wire_constants.c */
#include <stdio.h>

#include "wire.h"

int main(void) {
  const char *sep = "";
  printf("{\"consts\":{");
#define CONST(name, value) printf("%s\"%s\":%ld", sep, #name, (long)(name)), sep = ",";
#define ENV(name, variable)
#define MSG(name, number, direction, fields)
#include "wire.def"
#undef CONST
#undef ENV
#undef MSG
  sep = "";
  printf("},\"envs\":{");
#define CONST(name, value)
#define ENV(name, variable) printf("%s\"%s\":\"%s\"", sep, #name, name), sep = ",";
#define MSG(name, number, direction, fields)
#include "wire.def"
#undef CONST
#undef ENV
#undef MSG
  sep = "";
  printf("},\"messages\":{");
#define CONST(name, value)
#define ENV(name, variable)
#define MSG(name, number, direction, fields)                                                       \
  printf("%s\"%s\":{\"type\":%d,\"direction\":\"%s\",\"fields\":\"%s\"}", sep, #name, (int)WIRE_MSG_##name, direction, \
         fields),                                                                                  \
      sep = ",";
#include "wire.def"
#undef CONST
#undef ENV
#undef MSG
  printf("}}\n");
  return 0;
}
