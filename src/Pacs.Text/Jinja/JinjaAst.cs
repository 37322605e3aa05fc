namespace Pacs.Text.Jinja;

internal abstract record Node(int Line);

internal sealed record TextNode(string Text, int Line) : Node(Line);
internal sealed record CommentNode(int Line) : Node(Line);
internal sealed record IfNode(Expr Test, List<Node> Body, List<Node> Alternate, int Line) : Node(Line);
internal sealed record ForNode(Expr Target, Expr Iterable, Expr? Filter, List<Node> Body, List<Node> Else, int Line) : Node(Line);
internal sealed record SetNode(Expr Target, Expr? Value, List<Node> Body, int Line) : Node(Line);
internal sealed record MacroNode(string Name, List<Expr> Parameters, List<Node> Body, int Line) : Node(Line);
internal sealed record FilterBlockNode(Expr Filter, List<Node> Body, int Line) : Node(Line);
internal sealed record BreakNode(int Line) : Node(Line);
internal sealed record ContinueNode(int Line) : Node(Line);
internal sealed record OutputNode(Expr Value, int Line) : Node(Line);

internal abstract record Expr(int Line);

internal sealed record LiteralExpr(object? Value, int Line) : Expr(Line);
internal sealed record IdentifierExpr(string Name, int Line) : Expr(Line);
internal sealed record ListExpr(List<Expr> Items, bool IsTuple, int Line) : Expr(Line);
internal sealed record DictExpr(List<(Expr Key, Expr Value)> Items, int Line) : Expr(Line);
internal sealed record MemberExpr(Expr Target, Expr Property, bool Computed, int Line) : Expr(Line);
internal sealed record SliceExpr(Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);
internal sealed record CallExpr(Expr Callee, List<Expr> Args, int Line) : Expr(Line);
internal sealed record KeywordArgExpr(string Name, Expr Value, int Line) : Expr(Line);
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line) : Expr(Line);
internal sealed record UnaryExpr(string Op, Expr Operand, int Line) : Expr(Line);
internal sealed record FilterExpr(Expr Operand, string Name, List<Expr>? Args, int Line) : Expr(Line);
internal sealed record TestExpr(Expr Operand, bool Negate, string Name, int Line) : Expr(Line);
internal sealed record TernaryExpr(Expr Condition, Expr WhenTrue, Expr WhenFalse, int Line) : Expr(Line);
internal sealed record SelectExpr(Expr Value, Expr Condition, int Line) : Expr(Line);
