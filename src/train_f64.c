/* train_f64.c - the training core (train_tpl.h) in double: the gradient-check path.
 * One source, two precisions, so that the float64 gradient check covers the exact code
 * that trains. */
#include "train.h"

#define LC_TR_IMPL
#define LC_TR_DOUBLE 1
#define LC_TR_R double
#define LC_TR_S(x) x##_f64
#include "train_tpl.h"
