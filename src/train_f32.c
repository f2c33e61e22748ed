/* train_f32.c - the training core (train_tpl.h) in float: the path training runs.
 * One source, two precisions, so that the float64 gradient check covers the exact code
 * that trains. */
#include "train.h"

#define LC_TR_IMPL
#define LC_TR_DOUBLE 0
#define LC_TR_R float
#define LC_TR_S(x) x##_f32
#include "train_tpl.h"
