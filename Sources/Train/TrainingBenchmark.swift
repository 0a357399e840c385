import Kernels
import Engine

/// Speed of training steps (forward, loss, backward, optimizer update) on a fixed random batch, as
/// PyTorch's `Benchmarks/peers/train_peers.py` measures them: median seconds per step over `steps` steps
/// after one warm-up step, with the median of each phase.
public enum TrainingBenchmark {
    public struct Result {
        public let threads: Int
        public let batch: Int
        public let stepSeconds: Double
        public let forwardSeconds: Double
        public let backwardSeconds: Double
        public let optimizerSeconds: Double
        /// Per node of the graph: name, op, and median seconds per step of its forward and backward.
        public let nodes: [(name: String, op: String, forward: Double, backward: Double)]
        public var imagesPerSecond: Double { Double(batch) / stepSeconds }
    }

    /// `depth`: a volume batch (N x C x depth x height x width) for a 3D model, its loss on the D*H-row view
    /// as patch training computes it.
    public static func run(_ model: Model, height: Int, width: Int, depth: Int? = nil, batch: Int, threads: Int, steps: Int,
                           convolutions: TrainingConvolutions = TrainingOptions().convolutions) throws -> Result {
        Trainer.keepFreedMemory
        let autograd = try Autograd(model.graph, threads: threads, fuseActivations: true)
        autograd.convolutions = convolutions
        let optimizer = Optimizer(TrainingOptions().optimizer)
        let loss = Loss.defaultLoss(classes: model.classes)
        var random = SeededGenerator(seed: 5)
        let shape = TensorShape(batch: batch, channels: model.inputChannels, depth: depth, height: height, width: width)
        let x = Tensor(shape: shape, data: (0..<shape.elementCount).map { _ in random.uniform() })
        let rows = (depth ?? 1) * height, pixels = batch * rows * width
        let target: Target
        if model.classes == 1 {
            target = .binary(Tensor(shape: TensorShape(batch: batch, channels: 1, height: rows, width: width),
                                    data: (0..<pixels).map { _ in random.uniform() > 0.4 ? 1 : 0 }))
        } else {
            target = .classes((0..<pixels).map { _ in Int32(random.next() % UInt64(model.classes)) }, batch: batch, height: rows, width: width)
        }
        var forward: [Double] = [], backward: [Double] = [], update: [Double] = []
        let nodeCount = model.graph.nodes.count
        var perNode = [[(forward: Double, backward: Double)]](repeating: [], count: nodeCount)
        for step in 0...steps {
            autograd.nodeTimes = [(forward: Double, backward: Double)](repeating: (0, 0), count: nodeCount)
            let t0 = MonotonicClock.now()
            let logits = try autograd.forward([x])
            let t1 = MonotonicClock.now()
            autograd.zeroGradients()
            let gradients = zip(logits, DeepSupervision.shares(autograd.graph.outputs)).map { head, share -> Tensor? in
                share.of(Tensor(shape: head.shape, data: loss.evaluate(PatchTrainer.flattened(head), target).gradient.data))
            }
            try autograd.backward(gradients)
            let t2 = MonotonicClock.now()
            optimizer.update(autograd, learningRate: 1e-4)
            let t3 = MonotonicClock.now()
            if step > 0 {
                forward.append(t1 - t0); backward.append(t2 - t1); update.append(t3 - t2)
                for i in 0..<nodeCount { perNode[i].append(autograd.nodeTimes![i]) }
            }
        }
        let total = (0..<forward.count).map { forward[$0] + backward[$0] + update[$0] }
        let nodes = model.graph.nodes.enumerated().map { i, node in
            (name: node.name, op: node.op.kind, forward: median(perNode[i].map(\.forward)), backward: median(perNode[i].map(\.backward)))
        }
        return Result(threads: threads, batch: batch, stepSeconds: median(total), forwardSeconds: median(forward),
                      backwardSeconds: median(backward), optimizerSeconds: median(update), nodes: nodes)
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
