/* A small stack-machine interpreter running a loop that sums i*i mod 7 for 200,000 iterations
 * (unsigned arithmetic: wraps the same way natively and in Wasm). */
enum { PUSH, LOAD, STORE, ADD, MUL, MOD, LT, JZ, JMP, HALT };
static const int prog[] = {
    PUSH, 0, STORE, 0,            /* i = 0 */
    PUSH, 0, STORE, 1,            /* s = 0 */
    LOAD, 0, PUSH, 200000, LT, JZ, 39,
    LOAD, 1, LOAD, 0, LOAD, 0, MUL, PUSH, 7, MOD, ADD, STORE, 1,
    LOAD, 0, PUSH, 1, ADD, STORE, 0,
    JMP, 8, HALT, HALT,
    LOAD, 1, HALT};

unsigned kernel(void) {
    unsigned stack[64], vars[4] = {0};
    int sp = 0, pc = 0;
    for (;;) {
        switch (prog[pc++]) {
        case PUSH: stack[sp++] = (unsigned)prog[pc++]; break;
        case LOAD: stack[sp++] = vars[prog[pc++]]; break;
        case STORE: vars[prog[pc++]] = stack[--sp]; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case MOD: sp--; stack[sp - 1] %= stack[sp]; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case JZ: { int t = prog[pc++]; if (!stack[--sp]) pc = t; break; }
        case JMP: pc = prog[pc]; break;
        default: return sp ? stack[sp - 1] : vars[1];
        }
    }
}
