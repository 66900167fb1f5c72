namespace NetQuantGen.IR
{
    /// <summary>
    /// A tensor flowing through the graph: a graph input, a node output or a constant. Shapes are static:
    /// every value has a known shape once the importer has run shape inference.
    /// </summary>
    public sealed class Value
    {
        public Value(string name, ElementType type, int[] shape, TensorData? constant = null)
        {
            Name = name;
            Type = type;
            Shape = shape;
            Constant = constant;
        }

        public string Name { get; }

        public ElementType Type { get; set; }

        public int[] Shape { get; set; }

        /// <summary>The data of an initializer or folded constant; null for computed values.</summary>
        public TensorData? Constant { get; set; }

        public bool IsConstant => Constant != null;

        public long ElementCount => Shapes.ElementCount(Shape);

        public override string ToString() => $"{Name}{Shapes.Format(Shape)}";
    }
}
