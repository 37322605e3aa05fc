namespace Pacs.Rewards.Math;

/// <summary>A parsed mathematical expression. Structures (tuples, sets, intervals, relations) are nodes too; the
/// equivalence checker decides how each kind compares.</summary>
public abstract record Node;

/// <summary>A number as written: its exact value and, for decimals, how many places were written.</summary>
public sealed record NumberNode(Rational Value, int Decimals) : Node;

public sealed record SymbolNode(string Name) : Node;

/// <summary>A whole number written in another base with its subscript (1011_2, A3_{16}): its digits as written
/// (upper case, leading zeros dropped) and the base. It equals the same digits with or without the subscript.</summary>
public sealed record BasedNumberNode(string Digits, int Base) : Node;

public enum ConstantKind { Pi, E, I, Infinity }

public sealed record ConstantNode(ConstantKind Kind) : Node;

public sealed record SumNode(IReadOnlyList<Node> Terms) : Node;

public sealed record ProductNode(IReadOnlyList<Node> Factors) : Node;

public sealed record NegateNode(Node Operand) : Node;

public sealed record DivideNode(Node Numerator, Node Denominator) : Node;

public sealed record PowerNode(Node Base, Node Exponent) : Node;

/// <summary>Elementary functions: sqrt, sin, cos, tan, sec, csc, cot, arcsin, arccos, arctan, sinh, cosh, tanh,
/// ln, log (base 10, or base Argument2), exp, abs, factorial, root (index Argument2), binom (Argument2).</summary>
public sealed record FunctionNode(string Name, Node Argument, Node? Argument2 = null) : Node;

/// <summary>x% : the value x marked as a percentage.</summary>
public sealed record PercentNode(Node Operand) : Node;

/// <summary>a ± b, expanded into two answers by the equivalence checker.</summary>
public sealed record PlusMinusNode(Node? Left, Node Right) : Node;

/// <summary>Free text (a word answer, or a \text{...} that is not a unit).</summary>
public sealed record TextNode(string Text) : Node;

/// <summary>An ordered group: (a, b), [a, b), a point or an interval depending on the brackets.</summary>
public sealed record TupleNode(IReadOnlyList<Node> Items, char Open, char Close) : Node;

/// <summary>\{a, b\}: an unordered set.</summary>
public sealed record SetNode(IReadOnlyList<Node> Items) : Node;

/// <summary>Answers separated by commas, semicolons, "and" or "or" without enclosing brackets.</summary>
public sealed record ListNode(IReadOnlyList<Node> Items) : Node;

public sealed record UnionNode(IReadOnlyList<Node> Parts) : Node;

public sealed record MatrixNode(IReadOnlyList<IReadOnlyList<Node>> Rows) : Node;

public enum RelationKind { Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual, Approx, In }

/// <summary>A chain a op b op c ... (Operands.Count == Kinds.Count + 1).</summary>
public sealed record RelationNode(IReadOnlyList<Node> Operands, IReadOnlyList<RelationKind> Kinds) : Node;
