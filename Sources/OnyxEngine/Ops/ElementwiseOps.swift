import OnyxTensor

/// Elementwise operators: arithmetic/comparison/logic with broadcasting (ElementwiseBinary.swift),
/// unary math (ElementwiseUnary.swift), activations and Clip (Activations.swift), Cast (Cast.swift).
enum ElementwiseOps {
    static func register(_ t: inout OperatorTable) {
        // Binary arithmetic and bitwise.
        t.add("Add") { try ArithKernel(AddFn(), $0) }
        t.add("Sub") { try ArithKernel(SubFn(), $0) }
        t.add("Mul") { try ArithKernel(MulFn(), $0) }
        t.add("Div") { try ArithKernel(DivFn(), $0) }
        t.add("Mod", since: 10) { c in
            let fmod = try c.int("fmod", 0)
            guard fmod == 0 || fmod == 1 else { throw KernelError("fmod must be 0 or 1, got \(fmod)") }
            return try ArithKernel(ModFn(fmod: fmod == 1), c)
        }
        t.add("BitShift", since: 11) { c in
            let dir = try c.string("direction", "")
            guard dir == "LEFT" || dir == "RIGHT" else { throw KernelError("direction must be LEFT or RIGHT, got '\(dir)'") }
            return try ArithKernel(BitShiftFn(left: dir == "LEFT"), c)
        }
        t.add("BitwiseAnd", since: 18) { try ArithKernel(BitAndFn(), $0) }
        t.add("BitwiseOr", since: 18) { try ArithKernel(BitOrFn(), $0) }
        t.add("BitwiseXor", since: 18) { try ArithKernel(BitXorFn(), $0) }
        t.add("PRelu") { try ArithKernel(PReluFn(), $0) }
        t.add("Pow") { _ in PowKernel() }

        // Variadic.
        t.add("Max") { _ in VariadicKernel(f: MaxFn(), mean: false) }
        t.add("Min") { _ in VariadicKernel(f: MinFn(), mean: false) }
        t.add("Sum") { _ in VariadicKernel(f: AddFn(), mean: false) }
        t.add("Mean") { _ in VariadicKernel(f: AddFn(), mean: true) }

        // Comparison and logic.
        t.add("Equal") { _ in CompareKernel(f: EqualFn(), isEqual: true) }
        t.add("Less") { _ in CompareKernel(f: LessFn(), isEqual: false) }
        t.add("LessOrEqual", since: 12) { _ in CompareKernel(f: LessEqualFn(), isEqual: false) }
        t.add("Greater") { _ in CompareKernel(f: GreaterFn(), isEqual: false) }
        t.add("GreaterOrEqual", since: 12) { _ in CompareKernel(f: GreaterEqualFn(), isEqual: false) }
        t.add("And") { _ in LogicKernel(op: .and) }
        t.add("Or") { _ in LogicKernel(op: .or) }
        t.add("Xor") { _ in LogicKernel(op: .xor) }
        t.add("Not") { _ in NotKernel() }
        t.add("Where", since: 9) { _ in WhereKernel() }

        // Unary math.
        t.add("Abs") { _ in UnaryKernel(AbsFn()) }
        t.add("Neg") { _ in UnaryKernel(NegFn()) }
        t.add("Sign", since: 9) { _ in UnaryKernel(SignFn()) }
        t.add("Ceil") { _ in UnaryKernel(CeilFn()) }
        t.add("Floor") { _ in UnaryKernel(FloorFn()) }
        t.add("Round", since: 11) { _ in UnaryKernel(RoundFn()) }
        t.add("Sqrt") { _ in UnaryKernel(SqrtFn()) }
        t.add("Reciprocal") { _ in UnaryKernel(ReciprocalFn()) }
        t.add("Exp") { _ in UnaryKernel(ExpFn()) }
        t.add("Log") { _ in UnaryKernel(LogFn()) }
        t.add("Sin", since: 7) { _ in UnaryKernel(SinFn()) }
        t.add("Cos", since: 7) { _ in UnaryKernel(CosFn()) }
        t.add("Tan", since: 7) { _ in UnaryKernel(TanFn()) }
        t.add("Asin", since: 7) { _ in UnaryKernel(AsinFn()) }
        t.add("Acos", since: 7) { _ in UnaryKernel(AcosFn()) }
        t.add("Atan", since: 7) { _ in UnaryKernel(AtanFn()) }
        t.add("Sinh", since: 9) { _ in UnaryKernel(SinhFn()) }
        t.add("Cosh", since: 9) { _ in UnaryKernel(CoshFn()) }
        t.add("Asinh", since: 9) { _ in UnaryKernel(AsinhFn()) }
        t.add("Acosh", since: 9) { _ in UnaryKernel(AcoshFn()) }
        t.add("Atanh", since: 9) { _ in UnaryKernel(AtanhFn()) }
        t.add("Tanh") { _ in UnaryKernel(TanhFn()) }
        t.add("Erf", since: 9) { _ in UnaryKernel(ErfFn()) }
        t.add("BitwiseNot", since: 18) { _ in UnaryKernel(BitwiseNotFn()) }
        t.add("IsNaN", since: 9) { _ in FloatPredicateKernel(kind: .nan) }
        t.add("IsInf", since: 10) { c in
            FloatPredicateKernel(kind: .inf(pos: try c.int("detect_positive", 1) != 0,
                                            neg: try c.int("detect_negative", 1) != 0))
        }

        // Activations.
        t.add("Relu") { _ in UnaryKernel(ReluFn()) }
        t.add("LeakyRelu") { UnaryKernel(LeakyReluFn(alpha: try $0.float("alpha", 0.01))) }
        t.add("Elu") { UnaryKernel(EluFn(alpha: try $0.float("alpha", 1))) }
        t.add("Selu") {
            UnaryKernel(SeluFn(alpha: try $0.float("alpha", 1.67326319217681884765625),
                               gamma: try $0.float("gamma", 1.05070102214813232421875)))
        }
        t.add("Celu", since: 12) { UnaryKernel(CeluFn(alpha: try $0.float("alpha", 1))) }
        t.add("Sigmoid") { _ in UnaryKernel(SigmoidFn()) }
        t.add("HardSigmoid") {
            UnaryKernel(HardSigmoidFn(alpha: try $0.float("alpha", 0.2), beta: try $0.float("beta", 0.5)))
        }
        t.add("HardSwish", since: 14) { _ in UnaryKernel(HardSwishFn()) }
        t.add("Softplus") { _ in UnaryKernel(SoftplusFn()) }
        t.add("Softsign") { _ in UnaryKernel(SoftsignFn()) }
        t.add("ThresholdedRelu", since: 10) { UnaryKernel(ThresholdedReluFn(alpha: try $0.float("alpha", 1))) }
        t.add("Gelu", since: 20) { c in
            let approx = try c.string("approximate", "none")
            guard approx == "none" || approx == "tanh" else { throw KernelError("approximate must be none or tanh, got '\(approx)'") }
            return UnaryKernel(GeluFn(tanhApprox: approx == "tanh"))
        }
        t.add("Mish", since: 18) { _ in UnaryKernel(MishFn()) }
        t.add("Shrink", since: 9) {
            UnaryKernel(ShrinkFn(bias: try $0.float("bias", 0), lambd: try $0.float("lambd", 0.5)))
        }
        t.add("Swish", since: 24) { UnaryKernel(SwishFn(alpha: try $0.float("alpha", 1))) }
        t.add("Clip") { try ClipKernel($0) }

        // Casts.
        t.add("Cast") { CastKernel(to: try castTargetType($0)) }
        t.add("CastLike", since: 15) { _ in CastLikeKernel() }
        t.add("BitCast", since: 26) { try BitCastKernel($0) }
    }
}
