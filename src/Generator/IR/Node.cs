using System.Collections.Generic;
using System.Linq;

namespace NetQuantGen.IR
{
    /// <summary>One operator application. Optional inputs that the model leaves out are null.</summary>
    public sealed class Node
    {
        public Node(string name, Operator op, IEnumerable<Value?> inputs, IEnumerable<Value> outputs)
        {
            Name = name;
            Op = op;
            Inputs = inputs.ToList();
            Outputs = outputs.ToList();
        }

        /// <summary>The ONNX node name, or a name made from the operator and first output when it had none.</summary>
        public string Name { get; }

        public Operator Op { get; set; }

        public List<Value?> Inputs { get; }

        public List<Value> Outputs { get; }

        /// <summary>The per-channel distribution of the output before the fused activation, when a folded BatchNormalization gave one.</summary>
        public ChannelPrior? OutputPrior { get; set; }

        public Value Input(int index) => Inputs[index]!;

        public Value? OptionalInput(int index) => index < Inputs.Count ? Inputs[index] : null;

        public Value Output => Outputs[0];

        public override string ToString() => $"{Op.OpType} '{Name}'";
    }
}
