import OnyxTensor

/// Elementwise operators: arithmetic/comparison/logic with broadcasting (ElementwiseBinary.swift),
/// unary math (ElementwiseUnary.swift), activations and Clip (Activations.swift), Cast (Cast.swift).
enum ElementwiseOps {
    static func register(_ t: inout OperatorTable) {
        // Binary arithmetic and bitwise.
        t.add("Add") { try makeArithKernel(AddFn(), $0) }
        t.add("Sub") { try makeArithKernel(SubFn(), $0) }
        t.add("Mul") { try makeArithKernel(MulFn(), $0) }
        t.add("Div") { try makeArithKernel(DivFn(), $0) }
        t.add("Mod", since: 10) { c in
            let fmod = try c.int("fmod", 0)
            guard fmod == 0 || fmod == 1 else { throw KernelError("fmod must be 0 or 1, got \(fmod)") }
            return try makeArithKernel(ModFn(fmod: fmod == 1), c)
        }
        t.add("BitShift", since: 11) { c in
            let dir = try c.string("direction", "")
            guard dir == "LEFT" || dir == "RIGHT" else { throw KernelError("direction must be LEFT or RIGHT, got '\(dir)'") }
            return try makeArithKernel(BitShiftFn(left: dir == "LEFT"), c)
        }
        t.add("BitwiseAnd", since: 18) { try makeArithKernel(BitAndFn(), $0) }
        t.add("BitwiseOr", since: 18) { try makeArithKernel(BitOrFn(), $0) }
        t.add("BitwiseXor", since: 18) { try makeArithKernel(BitXorFn(), $0) }
        t.add("PRelu") { _ in makePReluKernel() }
        t.add("Pow") { _ in PowKernel() }

        // Variadic.
        t.add("Max") { _ in makeVariadicKernel(MaxFn(), mean: false) }
        t.add("Min") { _ in makeVariadicKernel(MinFn(), mean: false) }
        t.add("Sum") { _ in makeVariadicKernel(AddFn(), mean: false) }
        t.add("Mean") { _ in makeVariadicKernel(AddFn(), mean: true) }

        // Comparison and logic.
        t.add("Equal") { _ in makeCompareKernel(EqualFn(), isEqual: true) }
        t.add("Less") { _ in makeCompareKernel(LessFn(), isEqual: false) }
        t.add("LessOrEqual", since: 12) { _ in makeCompareKernel(LessEqualFn(), isEqual: false) }
        t.add("Greater") { _ in makeCompareKernel(GreaterFn(), isEqual: false) }
        t.add("GreaterOrEqual", since: 12) { _ in makeCompareKernel(GreaterEqualFn(), isEqual: false) }
        t.add("And") { _ in LogicKernel(op: .and) }
        t.add("Or") { _ in LogicKernel(op: .or) }
        t.add("Xor") { _ in LogicKernel(op: .xor) }
        t.add("Not") { _ in NotKernel() }
        t.add("Where", since: 9) { _ in WhereKernel() }

        // Unary math.
        t.add("Abs") { _ in makeUnaryKernel(AbsFn()) }
        t.add("Neg") { _ in makeUnaryKernel(NegFn()) }
        t.add("Sign", since: 9) { _ in makeUnaryKernel(SignFn()) }
        t.add("Ceil") { _ in makeUnaryKernel(CeilFn()) }
        t.add("Floor") { _ in makeUnaryKernel(FloorFn()) }
        t.add("Round", since: 11) { _ in makeUnaryKernel(RoundFn()) }
        t.add("Sqrt") { _ in makeUnaryKernel(SqrtFn()) }
        t.add("Reciprocal") { _ in makeUnaryKernel(ReciprocalFn()) }
        t.add("Exp") { _ in makeUnaryKernel(ExpFn()) }
        t.add("Log") { _ in makeUnaryKernel(LogFn()) }
        t.add("Sin", since: 7) { _ in makeUnaryKernel(SinFn()) }
        t.add("Cos", since: 7) { _ in makeUnaryKernel(CosFn()) }
        t.add("Tan", since: 7) { _ in makeUnaryKernel(TanFn()) }
        t.add("Asin", since: 7) { _ in makeUnaryKernel(AsinFn()) }
        t.add("Acos", since: 7) { _ in makeUnaryKernel(AcosFn()) }
        t.add("Atan", since: 7) { _ in makeUnaryKernel(AtanFn()) }
        t.add("Sinh", since: 9) { _ in makeUnaryKernel(SinhFn()) }
        t.add("Cosh", since: 9) { _ in makeUnaryKernel(CoshFn()) }
        t.add("Asinh", since: 9) { _ in makeUnaryKernel(AsinhFn()) }
        t.add("Acosh", since: 9) { _ in makeUnaryKernel(AcoshFn()) }
        t.add("Atanh", since: 9) { _ in makeUnaryKernel(AtanhFn()) }
        t.add("Tanh") { _ in makeUnaryKernel(TanhFn()) }
        t.add("Erf", since: 9) { _ in makeUnaryKernel(ErfFn()) }
        t.add("BitwiseNot", since: 18) { _ in makeUnaryKernel(BitwiseNotFn()) }
        t.add("IsNaN", since: 9) { _ in FloatPredicateKernel(kind: .nan) }
        t.add("IsInf", since: 10) { c in
            FloatPredicateKernel(kind: .inf(pos: try c.int("detect_positive", 1) != 0,
                                            neg: try c.int("detect_negative", 1) != 0))
        }

        // Activations.
        t.add("Relu") { _ in makeUnaryKernel(ReluFn()) }
        t.add("LeakyRelu") { makeUnaryKernel(LeakyReluFn(alpha: try $0.float("alpha", 0.01))) }
        t.add("Elu") { makeUnaryKernel(EluFn(alpha: try $0.float("alpha", 1))) }
        t.add("Selu") {
            makeUnaryKernel(SeluFn(alpha: try $0.float("alpha", 1.67326319217681884765625),
                               gamma: try $0.float("gamma", 1.05070102214813232421875)))
        }
        t.add("Celu", since: 12) { makeUnaryKernel(CeluFn(alpha: try $0.float("alpha", 1))) }
        t.add("Sigmoid") { _ in makeUnaryKernel(SigmoidFn()) }
        t.add("HardSigmoid") {
            makeUnaryKernel(HardSigmoidFn(alpha: try $0.float("alpha", 0.2), beta: try $0.float("beta", 0.5)))
        }
        t.add("HardSwish", since: 14) { _ in makeUnaryKernel(HardSwishFn()) }
        t.add("Softplus") { _ in makeUnaryKernel(SoftplusFn()) }
        t.add("Softsign") { _ in makeUnaryKernel(SoftsignFn()) }
        t.add("ThresholdedRelu", since: 10) { makeUnaryKernel(ThresholdedReluFn(alpha: try $0.float("alpha", 1))) }
        t.add("Gelu", since: 20) { c in
            let approx = try c.string("approximate", "none")
            guard approx == "none" || approx == "tanh" else { throw KernelError("approximate must be none or tanh, got '\(approx)'") }
            return makeUnaryKernel(GeluFn(tanhApprox: approx == "tanh"))
        }
        t.add("Mish", since: 18) { _ in makeUnaryKernel(MishFn()) }
        t.add("Shrink", since: 9) {
            makeUnaryKernel(ShrinkFn(bias: try $0.float("bias", 0), lambd: try $0.float("lambd", 0.5)))
        }
        t.add("Swish", since: 24) { makeUnaryKernel(SwishFn(alpha: try $0.float("alpha", 1))) }
        t.add("Clip") { try ClipKernel($0) }

        // Casts.
        t.add("Cast") { CastKernel(to: try castTargetType($0)) }
        t.add("CastLike", since: 15) { _ in CastLikeKernel() }
        t.add("BitCast", since: 26) { try BitCastKernel($0) }
    }
}
