/* One ISA × dtype instantiation of the SIMD micro-kernel templates of fastdl_conv_ukr.h.
 * The includer defines T, V, VW, LOADU, STOREU, SET1, FMA, ADD, MAX, ZERO (the vector
 * type and its operations), HSUM, MASKT, MKTAIL, LOADT (horizontal sum and masked tail
 * loads of the dot kernel), FASTDL_UKR_SFX (name suffix), FASTDL_UKR_TGT (target
 * attribute) and FASTDL_UKR_WIDE (1: also the 12-row kernels, which need 32 registers);
 * everything is undefined again at the end. No include guard on purpose. */
#define FASTDL_UKR_INST(M, S, G) M(S, G)
FASTDL_UKR_INST(FASTDL_DEFINE_PACKED, FASTDL_UKR_SFX, FASTDL_UKR_TGT)
FASTDL_UKR_INST(FASTDL_DEFINE_GATHER, FASTDL_UKR_SFX, FASTDL_UKR_TGT)
FASTDL_UKR_INST(FASTDL_DEFINE_DOT, FASTDL_UKR_SFX, FASTDL_UKR_TGT)
#if FASTDL_UKR_WIDE
FASTDL_UKR_INST(FASTDL_DEFINE_GATHER12, FASTDL_UKR_SFX, FASTDL_UKR_TGT)
FASTDL_UKR_INST(FASTDL_DEFINE_GATHERB12, FASTDL_UKR_SFX, FASTDL_UKR_TGT)
#endif
#undef FASTDL_UKR_INST
#undef T
#undef V
#undef VW
#undef LOADU
#undef STOREU
#undef SET1
#undef FMA
#undef ADD
#undef MAX
#undef ZERO
#undef HSUM
#undef MASKT
#undef MKTAIL
#undef LOADT
#undef FASTDL_UKR_SFX
#undef FASTDL_UKR_TGT
#undef FASTDL_UKR_WIDE
