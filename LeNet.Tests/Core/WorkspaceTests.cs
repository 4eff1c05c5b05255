using LeNet.Core;
using LeNet.Core.Autograd;
using LeNet.Core.Functional;

namespace LeNet.Tests.Core;

/// <summary>What a workspace reuses, and that reuse never changes a result.</summary>
public class WorkspaceTests
{
    [Fact]
    public void The_same_request_in_the_next_iteration_gets_the_same_tensor_and_other_shapes_get_new_ones()
    {
        var workspace = new Workspace();
        var input = Tensor.FromArray([-1f, 2f, -3f, 4f], 2, 2);
        Tensor first, second, other;
        using (workspace.Begin()) first = F.ReLU(input);
        using (workspace.Begin()) second = F.ReLU(input);
        Assert.Same(first, second);
        using (workspace.Begin()) other = F.ReLU(Tensor.FromArray([1f, -1f], 1, 2));
        Assert.NotSame(first, other);
        // The full-shape tensor is still kept: the next full-shape request gets it back.
        using (workspace.Begin()) Assert.Same(first, F.ReLU(input));
        Assert.Equal([0f, 2f, 0f, 4f], first.ToArray());
    }

    [Fact]
    public void Outside_a_scope_every_operation_returns_a_new_tensor()
    {
        var input = Tensor.FromArray([1f, 2f], 2);
        Assert.NotSame(F.ReLU(input), F.ReLU(input));
    }

    [Fact]
    public void Gradients_through_reused_tensors_equal_those_without_a_workspace()
    {
        var weight = Tensor.FromArray([0.5f, -1f, 2f, 0.25f, 1.5f, -0.75f], 2, 3);
        weight.RequiresGrad = true;
        var input = Tensor.FromArray([1f, -2f, 3f, -1f, 0.5f, 2f], 2, 3);
        var labels = new[] { 1, 0 };

        var loss = F.CrossEntropy(F.ReLU(F.Linear(input, weight)), labels);
        loss.Backward();
        var expected = weight.Grad!.ToArray();

        var workspace = new Workspace();
        for (var iteration = 0; iteration < 3; iteration++)
        {
            weight.ZeroGrad();
            using var scope = workspace.Begin();
            F.CrossEntropy(F.ReLU(F.Linear(input, weight)), labels).Backward();
            Assert.Equal(expected, weight.Grad!.ToArray());
        }
    }

    [Fact]
    public void A_tensor_reused_without_recording_forgets_the_previous_graph()
    {
        var weight = Tensor.FromArray([1f, 2f], 1, 2);
        weight.RequiresGrad = true;
        var input = Tensor.FromArray([3f, 4f], 1, 2);
        var workspace = new Workspace();
        Tensor recorded;
        using (workspace.Begin()) recorded = F.Linear(input, weight);
        Assert.True(recorded.RequiresGrad);
        using (GradientTape.NoGrad())
        using (workspace.Begin())
        {
            var again = F.Linear(input, weight);
            Assert.Same(recorded, again);
            Assert.False(again.RequiresGrad);
            Assert.True(again.IsLeaf);
        }
    }

    [Fact]
    public void A_workspace_cannot_be_begun_twice_at_once()
    {
        var workspace = new Workspace();
        using var scope = workspace.Begin();
        Assert.Throws<InvalidOperationException>(() => workspace.Begin());
    }
}
